import { describe, expect, it } from 'vitest';
import { backoffDelay, withRetry } from '../src/index.js';

class Transient extends Error {}

/** An attempt that fails `failures` times with a Transient error, then returns 'ok'. */
function flaky(failures: number): { attempt: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    attempt: async () => {
      calls++;
      if (calls <= failures) throw new Transient(`failure ${calls}`);
      return 'ok';
    },
    calls: () => calls,
  };
}

const fast = { initialMs: 1, maxMs: 2 };

describe('backoffDelay', () => {
  it('doubles from initialMs, spreads by at most jitter, and stays under maxMs', () => {
    for (let i = 0; i < 200; i++) {
      const d1 = backoffDelay(1, { initialMs: 10, jitter: 2 });
      expect(d1).toBeGreaterThanOrEqual(10);
      expect(d1).toBeLessThanOrEqual(30);
      const d3 = backoffDelay(3, { initialMs: 10, jitter: 0 });
      expect(d3).toBe(40);
      expect(backoffDelay(30, { initialMs: 10, maxMs: 500 })).toBeLessThanOrEqual(500);
    }
  });
});

describe('withRetry', () => {
  it('retries a transient error until the attempt succeeds', async () => {
    const f = flaky(2);
    const got = await withRetry(f.attempt, {
      maxRetries: 3,
      backoff: fast,
      retryable: (e) => e instanceof Transient,
    });
    expect(got).toBe('ok');
    expect(f.calls()).toBe(3);
  });

  it('throws the last error after maxRetries retries', async () => {
    const f = flaky(10);
    const retries: number[] = [];
    await expect(
      withRetry(f.attempt, {
        maxRetries: 2,
        backoff: fast,
        retryable: () => true,
        onRetry: (_e, n) => retries.push(n),
      }),
    ).rejects.toThrow('failure 3');
    expect(f.calls()).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('does not retry an error retrying cannot fix', async () => {
    const f = flaky(1);
    await expect(
      withRetry(f.attempt, { maxRetries: 5, backoff: fast, retryable: () => false }),
    ).rejects.toThrow('failure 1');
    expect(f.calls()).toBe(1);
  });

  it('waits at least what the server asked for (Retry-After)', async () => {
    const f = flaky(1);
    const delays: number[] = [];
    const start = performance.now();
    await withRetry(f.attempt, {
      maxRetries: 1,
      backoff: fast,
      retryable: () => true,
      retryAfterMs: () => 150,
      onRetry: (_e, _n, ms) => delays.push(ms),
    });
    expect(delays).toEqual([150]);
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
  });

  it('stops waiting and throws when the signal aborts', async () => {
    const ac = new AbortController();
    const f = flaky(10);
    const run = withRetry(f.attempt, {
      maxRetries: 10,
      backoff: { initialMs: 60_000 },
      retryable: () => true,
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(new Error('shutting down')), 20);
    await expect(run).rejects.toThrow('shutting down');
    expect(f.calls()).toBe(1);
  });
});
