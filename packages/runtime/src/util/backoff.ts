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
 * Capped exponential backoff with jitter: the delay before retry number `failures`, and at
 * least `serverAskedMs` (a Retry-After the server sent, which the cap does not shorten).
 */
export function backoffDelay(
  failures: number,
  opts: BackoffOptions = {},
  serverAskedMs = 0,
): number {
  const initial = opts.initialMs ?? 800;
  const max = opts.maxMs ?? 30_000;
  const base = Math.min(max, initial * 2 ** Math.max(0, failures - 1));
  return Math.max(serverAskedMs, Math.min(max, base * (1 + Math.random() * (opts.jitter ?? 0.5))));
}

export interface WithRetryOptions {
  /** Retries after the first attempt. */
  maxRetries: number;
  backoff?: BackoffOptions;
  retryable(err: unknown): boolean;
  /**
   * The wait a server asked for with this error (Retry-After), in ms: the pause is then at
   * least that long.
   */
  retryAfterMs?(err: unknown): number | undefined;
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
      const delay = backoffDelay(retry, options.backoff, options.retryAfterMs?.(err));
      options.onRetry?.(err, retry, delay);
      await sleep(delay, options.signal);
      options.signal?.throwIfAborted();
    }
  }
}
