// Retries with capped exponential backoff and jitter, shared by the providers that talk to
// an API over the network (Route53, PowerDNS, the webhook client).
import { type BackoffOptions, backoffDelay, sleep } from '@chousei/runtime';

export interface RetryOptions {
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
 * retried `maxRetries` times, sleeping an exponential backoff with jitter in between (the
 * jitter keeps instances throttled together from retrying together). Throws the last error.
 */
export async function withRetry<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
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
