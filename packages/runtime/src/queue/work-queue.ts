import { noQueueMetrics, type QueueMetrics, queueMetrics } from './metrics.js';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';

export interface WorkQueueOptions<T> {
  /** Names the queue in metrics (label `name`); usually the controller's name. */
  name: string;
  /** Backoff for `addRateLimited`; default `defaultControllerRateLimiter()`. */
  rateLimiter?: RateLimiter<T>;
  /** Report the `workqueue_*` metrics; default true. */
  metrics?: boolean;
}

// setTimeout fires after 1 ms for anything longer (with a warning): longer delays are
// reached in steps, the timer re-arming itself until the item is due.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A FIFO on a power-of-two ring buffer: O(1) push and shift, no copying once warm. */
class Fifo<V> {
  #buf: (V | undefined)[] = Array.from({ length: 16 });
  #head = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(value: V): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) & (this.#buf.length - 1)] = value;
    this.#size++;
  }

  /** The oldest value; only call when `size > 0`. */
  shift(): V {
    const value = this.#buf[this.#head] as V;
    this.#buf[this.#head] = undefined; // let it be collected
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#size--;
    // Drained after a burst (a resync queues every name): the buffer goes back to its
    // first size instead of holding the burst's for ever.
    if (this.#size === 0 && this.#buf.length > 1024) this.clear();
    return value;
  }

  clear(): void {
    this.#buf = Array.from({ length: 16 });
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const next: (V | undefined)[] = Array.from({ length: this.#buf.length * 2 });
    for (let i = 0; i < this.#size; i++) {
      next[i] = this.#buf[(this.#head + i) & (this.#buf.length - 1)];
    }
    this.#buf = next;
    this.#head = 0;
  }
}

interface Delayed<T> {
  readonly item: T;
  readyAt: number;
  /** Insertion order, so items due at the same time come out in the order added. */
  seq: number;
  index: number;
}

/** Items waiting to be added, earliest first; each item at most once. */
class DelayHeap<T> {
  readonly #heap: Delayed<T>[] = [];
  readonly #byItem = new Map<T, Delayed<T>>();
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  peek(): Delayed<T> | undefined {
    return this.#heap[0];
  }

  /** Schedules `item` at `readyAt` unless it is already due earlier. */
  schedule(item: T, readyAt: number): void {
    const existing = this.#byItem.get(item);
    if (existing !== undefined) {
      if (readyAt < existing.readyAt) {
        existing.readyAt = readyAt;
        this.#up(existing.index);
      }
      return;
    }
    const entry: Delayed<T> = { item, readyAt, seq: this.#seq++, index: this.#heap.length };
    this.#heap.push(entry);
    this.#byItem.set(item, entry);
    this.#up(entry.index);
  }

  pop(): Delayed<T> | undefined {
    const top = this.#heap[0];
    if (top === undefined) return undefined;
    const last = this.#heap.pop()!;
    if (last !== top) {
      this.#place(last, 0);
      this.#down(0);
    }
    this.#byItem.delete(top.item);
    return top;
  }

  clear(): void {
    this.#heap.length = 0;
    this.#byItem.clear();
  }

  #before(a: Delayed<T>, b: Delayed<T>): boolean {
    return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
  }

  #place(entry: Delayed<T>, index: number): void {
    this.#heap[index] = entry;
    entry.index = index;
  }

  #up(index: number): void {
    const entry = this.#heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.#heap[parentIndex]!;
      if (!this.#before(entry, parent)) break;
      this.#place(parent, index);
      index = parentIndex;
    }
    this.#place(entry, index);
  }

  #down(index: number): void {
    const entry = this.#heap[index]!;
    const n = this.#heap.length;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.#before(this.#heap[right]!, this.#heap[child]!)) child = right;
      if (!this.#before(this.#heap[child]!, entry)) break;
      this.#place(this.#heap[child]!, index);
      index = child;
    }
    this.#place(entry, index);
  }
}

/**
 * A rate-limited work queue of keys, as client-go's: the controller's only source of work.
 *
 * - An item waits at most once however often it is added (events for one object collapse
 *   into one reconcile).
 * - An item is never handed to two workers at once: added while being processed, it is
 *   marked dirty and queued again when `done` is called.
 * - Items come out in the order they were first added.
 *
 * Items are compared as Map keys (SameValueZero), so use strings such as "namespace/name"
 * rather than objects; `undefined` is not a valid item (it is what `get` returns at
 * shutdown).
 */
export class WorkQueue<T = string> {
  readonly name: string;
  readonly #rateLimiter: RateLimiter<T>;
  readonly #metrics: QueueMetrics<T>;
  /** Items waiting, in order; each is also in #dirty. */
  readonly #queue = new Fifo<T>();
  /** Items that need processing: waiting, or to be re-queued when their worker is done. */
  readonly #dirty = new Set<T>();
  /** Items handed out and not yet done. */
  readonly #processing = new Set<T>();
  /** Pending `get` calls; non-empty only while #queue is empty. */
  readonly #waiters = new Fifo<(item: T | undefined) => void>();
  readonly #delayed = new DelayHeap<T>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #shuttingDown = false;
  readonly #drainWaiters = new Set<() => void>();

  constructor(options: WorkQueueOptions<T>) {
    this.name = options.name;
    this.#rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<T>();
    this.#metrics =
      options.metrics === false ? noQueueMetrics : queueMetrics<T>(options.name, () => this.len());
  }

  /** Queues `item` unless it is already waiting; ignored after shutdown. */
  add(item: T): void {
    if (this.#shuttingDown || this.#dirty.has(item)) return;
    this.#dirty.add(item);
    this.#metrics.added(item);
    // A worker has it: done() queues it again, so it is never processed twice at once.
    if (this.#processing.has(item)) return;
    this.#enqueue(item);
  }

  /**
   * Adds `item` after `delayMs`. An item already scheduled keeps the earlier of its two
   * times; a delay of 0 or less adds it now.
   */
  addAfter(item: T, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(item);
      return;
    }
    this.#delayed.schedule(item, performance.now() + delayMs);
    this.#arm();
  }

  /** Adds `item` after the delay its rate limiter gives: the retry of a failed item. */
  addRateLimited(item: T): void {
    if (this.#shuttingDown) return;
    this.#metrics.retried();
    this.addAfter(item, this.#rateLimiter.when(item));
  }

  /** Resets the backoff of `item`; call it when `item` was processed successfully. */
  forget(item: T): void {
    this.#rateLimiter.forget(item);
  }

  /** How many times `item` has been retried since it was last forgotten. */
  numRequeues(item: T): number {
    return this.#rateLimiter.retries(item);
  }

  /**
   * The next item, waiting for one if needed; `undefined` once the queue is shut down.
   * The caller owns the item until it calls `done(item)`.
   */
  get(): Promise<T | undefined> {
    if (this.#queue.size > 0) {
      const item = this.#queue.shift();
      this.#take(item);
      return Promise.resolve(item);
    }
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `item` as processed; if it was added meanwhile, it is queued again. */
  done(item: T): void {
    if (!this.#processing.delete(item)) return;
    this.#metrics.done(item);
    if (this.#dirty.has(item)) {
      this.#enqueue(item);
    } else if (this.#processing.size === 0 && this.#shuttingDown) {
      this.#idleAfterShutdown();
    }
  }

  /** Items waiting to be handed out (not counting delayed ones). */
  len(): number {
    return this.#queue.size;
  }

  /** Items handed out and not yet done. */
  get processing(): number {
    return this.#processing.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops handing out work: adds are ignored, `get` resolves `undefined` (pending calls
   * too), waiting and delayed items are dropped. A level-based controller loses nothing:
   * its next start lists every object again. Items in flight may still be `done`.
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#delayed.clear();
    this.#queue.clear();
    this.#dirty.clear();
    this.#metrics.droppedWaiting();
    while (this.#waiters.size > 0) this.#waiters.shift()(undefined);
    if (this.#processing.size === 0) this.#idleAfterShutdown();
  }

  /**
   * Graceful shutdown: shuts the queue down, then resolves true once every item handed
   * out has been `done`, or false after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<boolean> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        clearTimeout(timer);
        this.#drainWaiters.delete(settle);
        resolve(true);
      };
      this.#drainWaiters.add(settle);
      // Deliberately not unref'd: the caller is waiting on it to exit cleanly.
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(
          () => {
            this.#drainWaiters.delete(settle);
            resolve(false);
          },
          Math.min(Math.max(timeoutMs, 0), MAX_TIMER_MS),
        );
      }
    });
  }

  #enqueue(item: T): void {
    if (this.#waiters.size > 0) {
      // A worker is already waiting (so the queue is empty): hand the item straight over.
      const waiter = this.#waiters.shift();
      this.#take(item);
      waiter(item);
    } else {
      this.#queue.push(item);
    }
  }

  #take(item: T): void {
    this.#dirty.delete(item);
    this.#processing.add(item);
    this.#metrics.taken(item);
  }

  #idleAfterShutdown(): void {
    this.#metrics.close();
    for (const settle of [...this.#drainWaiters]) settle();
  }

  /** Keeps the one timer set for the earliest delayed item. */
  #arm(): void {
    const next = this.#delayed.peek();
    if (next === undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#timer !== undefined && this.#timerAt <= next.readyAt) return;
    clearTimeout(this.#timer);
    const now = performance.now();
    const delay = Math.min(Math.max(next.readyAt - now, 0), MAX_TIMER_MS);
    this.#timerAt = now + delay;
    this.#timer = setTimeout(this.#fire, delay);
    // Delayed retries alone must not keep the process alive.
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (let next = this.#delayed.peek(); next !== undefined && next.readyAt <= now; ) {
      this.#delayed.pop();
      this.add(next.item);
      next = this.#delayed.peek();
    }
    this.#arm();
  };
}
