export {
  type BucketOptions,
  BucketRateLimiter,
  defaultControllerRateLimiter,
  type ItemExponentialOptions,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
} from './rate-limiter.js';
export { WorkQueue, type WorkQueueOptions } from './work-queue.js';
