// Route53 allows 5 API requests per second per AWS account, whatever the caller: every
// provider instance in the process draws from one token bucket so that several zones or
// controllers together stay under it, and retries (the runtime's withRetry) go through the bucket too.
import { BucketRateLimiter, sleep } from '@chousei/runtime';

export interface RateLimitOptions {
  /** Requests per second; default 5 (the Route53 account quota). */
  qps?: number;
  /** Requests allowed at once after a quiet period; default 5. */
  burst?: number;
}

// One bucket per setting: instances with the same (default) setting share it; a test or an
// account with a raised quota may ask for another.
const buckets = new Map<string, BucketRateLimiter>();

/** The process-wide bucket for this setting. */
export function sharedLimiter(options: RateLimitOptions = {}): BucketRateLimiter {
  const qps = options.qps ?? 5;
  const burst = options.burst ?? 5;
  const key = `${qps}/${burst}`;
  let bucket = buckets.get(key);
  if (!bucket) {
    bucket = new BucketRateLimiter({ qps, burst });
    buckets.set(key, bucket);
  }
  return bucket;
}

/** Waits for (and takes) a token: call before every request. `signal` ends the wait. */
export async function takeToken(limiter: BucketRateLimiter, signal?: AbortSignal): Promise<void> {
  const wait = limiter.when(undefined);
  if (wait > 0) await sleep(wait, signal);
}
