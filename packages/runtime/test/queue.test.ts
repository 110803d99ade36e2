import { afterEach, describe, expect, it, vi } from 'vitest';
import { metricsRegistry } from '../src/metrics/registry.js';
import { ItemExponentialRateLimiter, WorkQueue } from '../src/queue/index.js';

// Queues live until shut down; every test shuts its own down.
const queues: WorkQueue<string>[] = [];
function queue(name: string, options: { rateLimiter?: ItemExponentialRateLimiter<string> } = {}) {
  const q = new WorkQueue<string>({ name: `queue-test-${name}`, ...options });
  queues.push(q);
  return q;
}

afterEach(() => {
  for (const q of queues.splice(0)) q.shutDown();
  vi.useRealTimers();
});

/** Whether `promise` has settled, after letting pending callbacks run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

/** The value of a sample of `metric` for the queue `name` (with `suffix` for histograms). */
async function sample(metric: string, name: string, suffix = ''): Promise<number | undefined> {
  const text = await metricsRegistry.getSingleMetricAsString(metric);
  const prefix = `${metric}${suffix}{name="queue-test-${name}"`;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('WorkQueue', () => {
  it('hands items out in the order they were added', async () => {
    const q = queue('fifo');
    for (const key of ['a', 'b', 'c']) q.add(key);
    expect(q.len()).toBe(3);
    expect([await q.get(), await q.get(), await q.get()]).toEqual(['a', 'b', 'c']);
    expect(q.len()).toBe(0);
    expect(q.processing).toBe(3);
  });

  it('keeps order across many items (ring buffer growth)', async () => {
    const q = queue('fifo-many');
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    const out: string[] = [];
    for (const [i, key] of keys.entries()) {
      q.add(key);
      if (i % 3 === 0) out.push((await q.get())!);
    }
    while (q.len() > 0) out.push((await q.get())!);
    expect(out).toEqual(keys);
  });

  it('queues an item waiting already only once', async () => {
    const q = queue('dedup');
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands one item to two workers: re-added while processing, it waits for done', async () => {
    const q = queue('dirty');
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    const second = q.get();
    expect(await settled(second)).toBe(false);
    q.done('a');
    expect(await second).toBe('a');
    expect(q.processing).toBe(1);
    q.done('a');
    expect(q.processing).toBe(0);
    expect(q.len()).toBe(0);
  });

  it('puts an item re-added while processing behind the items already waiting', async () => {
    const q = queue('dirty-order');
    q.add('a');
    await q.get();
    q.add('a');
    q.add('b');
    q.done('a');
    expect([await q.get(), await q.get()]).toEqual(['b', 'a']);
  });

  it('makes get wait for an item, serving waiters in order', async () => {
    const q = queue('wait');
    const first = q.get();
    const second = q.get();
    expect(await settled(first)).toBe(false);
    q.add('a');
    q.add('b');
    expect(q.processing).toBe(2);
    expect(await first).toBe('a');
    expect(await second).toBe('b');
  });

  it('ignores done for items not handed out', async () => {
    const q = queue('stray-done');
    q.add('a');
    q.done('a');
    q.done('zzz');
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('a');
  });

  describe('addAfter', () => {
    it('adds the item once the delay has passed, with one timer', () => {
      vi.useFakeTimers();
      const q = queue('after');
      q.addAfter('a', 100);
      q.addAfter('b', 300);
      q.addAfter('c', 200);
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(99);
      expect(q.len()).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.len()).toBe(1);
      vi.advanceTimersByTime(200);
      expect(q.len()).toBe(3);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('hands delayed items out by due time', async () => {
      vi.useFakeTimers();
      const q = queue('after-order');
      q.addAfter('late', 30);
      q.addAfter('early', 10);
      q.addAfter('same-1', 20);
      q.addAfter('same-2', 20);
      vi.advanceTimersByTime(30);
      expect([await q.get(), await q.get(), await q.get(), await q.get()]).toEqual([
        'early',
        'same-1',
        'same-2',
        'late',
      ]);
    });

    it('keeps the earlier time when an item is scheduled twice', () => {
      vi.useFakeTimers();
      const q = queue('after-earlier');
      q.addAfter('a', 100);
      q.addAfter('a', 50);
      q.addAfter('a', 500);
      vi.advanceTimersByTime(50);
      expect(q.len()).toBe(1);
      vi.advanceTimersByTime(1000);
      expect(q.len()).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('adds now for a delay of 0 or less', () => {
      vi.useFakeTimers();
      const q = queue('after-now');
      q.addAfter('a', 0);
      q.addAfter('b', -5);
      expect(q.len()).toBe(2);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('still deduplicates when the delayed add lands', async () => {
      vi.useFakeTimers();
      const q = queue('after-dedup');
      q.add('a');
      q.addAfter('a', 10);
      vi.advanceTimersByTime(10);
      expect(q.len()).toBe(1);
      expect(await q.get()).toBe('a');
    });

    it('reaches delays longer than a timer can hold', () => {
      vi.useFakeTimers();
      const q = queue('after-long');
      const day = 24 * 3600 * 1000;
      q.addAfter('a', 30 * day);
      vi.advanceTimersByTime(30 * day - 1);
      expect(q.len()).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.len()).toBe(1);
    });

    it('does not keep the process alive', () => {
      const q = queue('after-unref');
      const spy = vi.spyOn(globalThis, 'setTimeout');
      q.addAfter('a', 60_000);
      const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
      spy.mockRestore();
      expect(timer.hasRef()).toBe(false);
    });
  });

  describe('rate-limited adds', () => {
    it('backs off exponentially per item, capped, until forgotten', async () => {
      vi.useFakeTimers();
      const rateLimiter = new ItemExponentialRateLimiter<string>({
        baseDelayMs: 10,
        maxDelayMs: 40,
      });
      const q = queue('rate-limited', { rateLimiter });
      // A failing reconcile: retry, wait for the item to come back, fail it again.
      const delayOfNextRetry = async (): Promise<number> => {
        const start = Date.now();
        q.addRateLimited('a');
        while (q.len() === 0) vi.advanceTimersByTime(1);
        q.done((await q.get())!);
        return Date.now() - start;
      };
      const retries: number[] = [];
      for (let i = 0; i < 4; i++) retries.push(await delayOfNextRetry());
      expect(retries).toEqual([10, 20, 40, 40]);
      expect(q.numRequeues('a')).toBe(4);
      q.forget('a');
      expect(q.numRequeues('a')).toBe(0);
      expect(await delayOfNextRetry()).toBe(10);
    });

    it('uses the default controller rate limiter: 5 ms first', () => {
      vi.useFakeTimers();
      const q = queue('rate-limited-default');
      q.addRateLimited('a');
      vi.advanceTimersByTime(4);
      expect(q.len()).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.len()).toBe(1);
      expect(q.numRequeues('a')).toBe(1);
    });
  });

  describe('shutDown', () => {
    it('resolves waiting gets with undefined, and every later get', async () => {
      const q = queue('shutdown-waiters');
      const waiting = [q.get(), q.get()];
      q.shutDown();
      expect(q.shuttingDown).toBe(true);
      expect(await Promise.all(waiting)).toEqual([undefined, undefined]);
      expect(await q.get()).toBeUndefined();
    });

    it('drops waiting and delayed items, and ignores later adds', async () => {
      vi.useFakeTimers();
      const q = queue('shutdown-drop');
      q.add('a');
      q.addAfter('b', 10);
      q.shutDown();
      expect(q.len()).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
      q.add('c');
      q.addAfter('d', 10);
      q.addAfter('e', 0);
      q.addRateLimited('f');
      vi.advanceTimersByTime(1000);
      expect(q.len()).toBe(0);
      expect(await q.get()).toBeUndefined();
    });

    it('lets in-flight items finish without re-queuing them', async () => {
      const q = queue('shutdown-inflight');
      q.add('a');
      await q.get();
      q.add('a');
      q.shutDown();
      expect(q.processing).toBe(1);
      q.done('a');
      expect(q.processing).toBe(0);
      expect(q.len()).toBe(0);
    });
  });

  describe('drain', () => {
    it('resolves true at once when nothing is in flight, and shuts down', async () => {
      const q = queue('drain-idle');
      q.add('a');
      expect(await q.drain(1000)).toBe(true);
      expect(q.shuttingDown).toBe(true);
      expect(await q.get()).toBeUndefined();
    });

    it('waits until every item handed out is done', async () => {
      const q = queue('drain-wait');
      q.add('a');
      q.add('b');
      await q.get();
      await q.get();
      const drained = q.drain(60_000);
      q.done('a');
      expect(await settled(drained)).toBe(false);
      q.done('b');
      expect(await drained).toBe(true);
    });

    it('resolves false on timeout', async () => {
      vi.useFakeTimers();
      const q = queue('drain-timeout');
      q.add('a');
      await q.get();
      const drained = q.drain(100);
      vi.advanceTimersByTime(99);
      expect(await Promise.race([drained, Promise.resolve('pending')])).toBe('pending');
      vi.advanceTimersByTime(1);
      expect(await drained).toBe(false);
      q.done('a');
      expect(q.processing).toBe(0);
    });
  });

  describe('metrics', () => {
    it('issue 16: exports adds, retries and both durations from 0, before any add (as client-go)', async () => {
      queue('metrics-zero');
      expect(await sample('workqueue_adds_total', 'metrics-zero')).toBe(0);
      expect(await sample('workqueue_retries_total', 'metrics-zero')).toBe(0);
      expect(await sample('workqueue_depth', 'metrics-zero')).toBe(0);
      expect(await sample('workqueue_queue_duration_seconds', 'metrics-zero', '_count')).toBe(0);
      expect(await sample('workqueue_work_duration_seconds', 'metrics-zero', '_count')).toBe(0);
    });

    it('counts adds and retries and reports the depth', async () => {
      vi.useFakeTimers();
      const q = queue('metrics-counts');
      q.add('a');
      q.add('a');
      q.add('b');
      expect(await sample('workqueue_adds_total', 'metrics-counts')).toBe(2);
      expect(await sample('workqueue_depth', 'metrics-counts')).toBe(2);
      q.addRateLimited('c');
      expect(await sample('workqueue_retries_total', 'metrics-counts')).toBe(1);
      vi.advanceTimersByTime(5);
      expect(await sample('workqueue_adds_total', 'metrics-counts')).toBe(3);
      expect(await sample('workqueue_depth', 'metrics-counts')).toBe(3);
      q.shutDown();
      expect(await sample('workqueue_depth', 'metrics-counts')).toBe(0);
    });

    it('times the wait in the queue and the work', async () => {
      vi.useFakeTimers();
      const q = queue('metrics-durations');
      q.add('a');
      vi.advanceTimersByTime(2000);
      await q.get();
      vi.advanceTimersByTime(3000);
      q.done('a');
      expect(await sample('workqueue_queue_duration_seconds', 'metrics-durations', '_count')).toBe(
        1,
      );
      expect(await sample('workqueue_queue_duration_seconds', 'metrics-durations', '_sum')).toBe(2);
      expect(await sample('workqueue_work_duration_seconds', 'metrics-durations', '_sum')).toBe(3);
      const text = await metricsRegistry.getSingleMetricAsString('workqueue_work_duration_seconds');
      // Buckets from 10 ns by factors of 10: 1e-8 ... 1000, then +Inf.
      const les = [...text.matchAll(/le="([^"]+)",name="queue-test-metrics-durations"/g)];
      expect(les.map((m) => m[1])).toHaveLength(13);
      expect(les[0]?.[1]).toBe('1e-8');
      expect(les[12]?.[1]).toBe('+Inf');
    });

    it('reports unfinished work and the longest running worker when scraped', async () => {
      vi.useFakeTimers();
      const q = queue('metrics-unfinished');
      q.add('a');
      q.add('b');
      await q.get();
      vi.advanceTimersByTime(4000);
      await q.get();
      vi.advanceTimersByTime(1000);
      expect(await sample('workqueue_unfinished_work_seconds', 'metrics-unfinished')).toBe(6);
      expect(
        await sample('workqueue_longest_running_processor_seconds', 'metrics-unfinished'),
      ).toBe(5);
      q.done('a');
      q.done('b');
      expect(await sample('workqueue_unfinished_work_seconds', 'metrics-unfinished')).toBe(0);
      expect(
        await sample('workqueue_longest_running_processor_seconds', 'metrics-unfinished'),
      ).toBe(0);
    });

    it('reports nothing with metrics off', async () => {
      const q = new WorkQueue<string>({ name: 'queue-test-metrics-off', metrics: false });
      q.add('a');
      await q.get();
      q.done('a');
      q.shutDown();
      expect(await sample('workqueue_adds_total', 'metrics-off')).toBeUndefined();
      expect(await sample('workqueue_depth', 'metrics-off')).toBeUndefined();
    });
  });
});
