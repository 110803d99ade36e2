import { sleep } from './async.js';

export interface BackoffOptions {
  /** First delay, default 800 ms. */
  initialMs?: number;
  /** Cap, default 30 s. */
  maxMs?: number;
  /** Random spread added, as a fraction of the delay (default 0.5). */
  jitter?: number;
}

/**
 * Between guarded writes that lost a race (409 Conflict) and read again: short, and jittered
 * so that competing writers do not collide again in lockstep.
 */
export const CONFLICT_BACKOFF: BackoffOptions = { initialMs: 10, maxMs: 5_000, jitter: 1 };

/** Capped exponential backoff with jitter: the delay before retry number `failures`. */
export function backoffDelay(failures: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 800;
  const max = opts.maxMs ?? 30_000;
  const base = Math.min(max, initial * 2 ** Math.max(0, failures - 1));
  return Math.min(max, base * (1 + Math.random() * (opts.jitter ?? 0.5)));
}

export interface WithRetryOptions {
  /** Retries after the first attempt. */
  maxRetries: number;
  backoff?: BackoffOptions;
  retryable(err: unknown): boolean;
  onRetry?(err: unknown, retry: number, delayMs: number): void;
  /** Gives up: no retry starts after it aborts, and the wait before one ends. */
  signal?: AbortSignal;
}

/**
 * Runs `attempt` until it succeeds, fails for a reason retrying cannot fix, or has been
 * retried `maxRetries` times, sleeping `backoffDelay` in between (the jitter keeps callers
 * throttled together from retrying together). Throws the last error.
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  options: WithRetryOptions,
): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (err) {
      if (retry > options.maxRetries || !options.retryable(err) || options.signal?.aborted)
        throw err;
      const delay = backoffDelay(retry, options.backoff);
      options.onRetry?.(err, retry, delay);
      await sleep(delay, options.signal);
      options.signal?.throwIfAborted();
    }
  }
}
