/**
 * Decides how long a failed item waits before it is retried. The work queue asks it on
 * every rate-limited add; `forget` is called once an item succeeds so its next failure
 * starts from the shortest delay again.
 */
export interface RateLimiter<T> {
  /** The delay in milliseconds before `item` may be processed again; counts as a failure. */
  when(item: T): number;
  /** Stops tracking `item`: its backoff starts over. */
  forget(item: T): void;
  /** How many times `item` has failed since it was last forgotten. */
  retries(item: T): number;
}

export interface ItemExponentialOptions {
  /** Delay after the first failure; default 5 ms. */
  baseDelayMs?: number;
  /** Upper bound of the delay; default 1000 s. */
  maxDelayMs?: number;
}

/**
 * Per-item exponential backoff: base, 2*base, 4*base... capped at max. Each item has its
 * own count, so one broken object backs off without slowing the others.
 */
export class ItemExponentialRateLimiter<T = unknown> implements RateLimiter<T> {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly #failures = new Map<T, number>();

  constructor(options: ItemExponentialOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= 0)) {
      throw new RangeError('ItemExponentialRateLimiter: delays must be >= 0');
    }
  }

  when(item: T): number {
    const failures = this.#failures.get(item) ?? 0;
    this.#failures.set(item, failures + 1);
    // The exponent is clamped so a base of 0 never meets 2 ** 1024 = Infinity (0 * Infinity
    // is NaN); any larger base has long since passed the cap by then.
    const delay = this.baseDelayMs * 2 ** Math.min(failures, 1023);
    return Math.min(delay, this.maxDelayMs);
  }

  forget(item: T): void {
    this.#failures.delete(item);
  }

  retries(item: T): number {
    return this.#failures.get(item) ?? 0;
  }
}

export interface BucketOptions {
  /** Tokens added per second; default 10. `Infinity` never delays. */
  qps?: number;
  /** Bucket size, the number of retries allowed at once after a quiet period; default 100. */
  burst?: number;
}

/**
 * A token bucket shared by all items: it bounds the overall retry rate, so a storm of
 * failures cannot hammer the API server however many distinct items fail. `when`
 * reserves a token and returns how long until that token exists; the bucket may go
 * negative, which queues later callers behind earlier ones.
 */
export class BucketRateLimiter implements RateLimiter<unknown> {
  readonly qps: number;
  readonly burst: number;
  #tokens: number;
  #last: number;

  constructor(options: BucketOptions = {}) {
    this.qps = options.qps ?? 10;
    this.burst = options.burst ?? 100;
    if (!(this.qps > 0)) throw new RangeError('BucketRateLimiter: qps must be > 0');
    if (!(this.burst >= 1)) throw new RangeError('BucketRateLimiter: burst must be >= 1');
    this.#tokens = this.burst;
    this.#last = performance.now();
  }

  when(_item: unknown): number {
    if (this.qps === Number.POSITIVE_INFINITY) return 0;
    const now = performance.now();
    // Refill for the time since the last reservation, never beyond the burst.
    const elapsed = Math.max(0, now - this.#last);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.qps) / 1000);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.qps;
  }

  // The bucket is about the overall rate, not any one item: nothing to forget or count.
  forget(_item: unknown): void {}

  retries(_item: unknown): number {
    return 0;
  }
}

/** The longest delay of several limiters; every one of them sees every failure. */
export class MaxOfRateLimiter<T = unknown> implements RateLimiter<T> {
  readonly #limiters: readonly RateLimiter<T>[];

  constructor(...limiters: RateLimiter<T>[]) {
    if (limiters.length === 0) throw new RangeError('MaxOfRateLimiter: needs a limiter');
    this.#limiters = limiters;
  }

  when(item: T): number {
    let delay = 0;
    // No short-circuit: each limiter must record the failure (and reserve its token).
    for (const limiter of this.#limiters) delay = Math.max(delay, limiter.when(item));
    return delay;
  }

  forget(item: T): void {
    for (const limiter of this.#limiters) limiter.forget(item);
  }

  retries(item: T): number {
    let retries = 0;
    for (const limiter of this.#limiters) retries = Math.max(retries, limiter.retries(item));
    return retries;
  }
}

/**
 * The limiter controllers get unless they pass their own, as in controller-runtime:
 * per-item backoff from 5 ms up to 1000 s, and at most 10 retries per second overall
 * after a burst of 100.
 */
export function defaultControllerRateLimiter<T>(): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(
    new ItemExponentialRateLimiter<T>({ baseDelayMs: 5, maxDelayMs: 1_000_000 }),
    new BucketRateLimiter({ qps: 10, burst: 100 }),
  );
}
