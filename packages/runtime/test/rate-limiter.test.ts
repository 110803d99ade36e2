import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
} from '../src/queue/index.js';

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

function delays<T>(limiter: RateLimiter<T>, item: T, n: number): number[] {
  return Array.from({ length: n }, () => limiter.when(item));
}

describe('ItemExponentialRateLimiter', () => {
  it('doubles from 5 ms per failure of an item by default', () => {
    const limiter = new ItemExponentialRateLimiter<string>();
    expect(delays(limiter, 'a', 5)).toEqual([5, 10, 20, 40, 80]);
    expect(limiter.retries('a')).toBe(5);
  });

  it('caps at 1000 s by default', () => {
    const limiter = new ItemExponentialRateLimiter<string>();
    const all = delays(limiter, 'a', 25);
    expect(all[17]).toBe(5 * 2 ** 17);
    expect(all.slice(18)).toEqual(Array(7).fill(1_000_000));
  });

  it('stays at the cap however many failures, even from a base of 0', () => {
    const limiter = new ItemExponentialRateLimiter<string>({ baseDelayMs: 1, maxDelayMs: 100 });
    expect(delays(limiter, 'a', 9)).toEqual([1, 2, 4, 8, 16, 32, 64, 100, 100]);
    expect(delays(limiter, 'a', 3000).at(-1)).toBe(100);
    const zero = new ItemExponentialRateLimiter<string>({ baseDelayMs: 0 });
    expect(delays(zero, 'a', 3000).every((d) => d === 0)).toBe(true);
  });

  it('counts each item on its own', () => {
    const limiter = new ItemExponentialRateLimiter<string>();
    delays(limiter, 'a', 3);
    expect(limiter.when('b')).toBe(5);
    expect(limiter.retries('a')).toBe(3);
    expect(limiter.retries('b')).toBe(1);
  });

  it('forget resets the backoff', () => {
    const limiter = new ItemExponentialRateLimiter<string>();
    delays(limiter, 'a', 4);
    limiter.forget('a');
    expect(limiter.retries('a')).toBe(0);
    expect(limiter.when('a')).toBe(5);
  });

  it('rejects negative delays', () => {
    expect(() => new ItemExponentialRateLimiter({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});

describe('BucketRateLimiter', () => {
  it('lets a burst through, then spaces reservations by 1/qps', () => {
    const limiter = new BucketRateLimiter({ qps: 10, burst: 3 });
    expect(delays(limiter, 'x', 5)).toEqual([0, 0, 0, 100, 200]);
  });

  it('refills with time, never beyond the burst', () => {
    const limiter = new BucketRateLimiter({ qps: 10, burst: 3 });
    delays(limiter, 'x', 5); // bucket at -2
    vi.advanceTimersByTime(150); // +1.5 tokens: -0.5
    expect(limiter.when('x')).toBeCloseTo(150);
    vi.advanceTimersByTime(60_000);
    expect(delays(limiter, 'x', 4)).toEqual([0, 0, 0, 100]);
  });

  it('defaults to 10 qps with a burst of 100, shared by all items', () => {
    const limiter = new BucketRateLimiter();
    const all = Array.from({ length: 102 }, (_, i) => limiter.when(`item-${i}`));
    expect(all.slice(0, 100).every((d) => d === 0)).toBe(true);
    expect(all.slice(100)).toEqual([100, 200]);
    expect(limiter.retries('item-0')).toBe(0);
  });

  it('never delays at an infinite rate', () => {
    const limiter = new BucketRateLimiter({ qps: Number.POSITIVE_INFINITY, burst: 1 });
    expect(delays(limiter, 'x', 10).every((d) => d === 0)).toBe(true);
  });

  it('rejects a non-positive rate or an empty bucket', () => {
    expect(() => new BucketRateLimiter({ qps: 0 })).toThrow(RangeError);
    expect(() => new BucketRateLimiter({ burst: 0 })).toThrow(RangeError);
  });
});

describe('MaxOfRateLimiter', () => {
  it('returns the longest delay and tells every limiter', () => {
    const slow = new ItemExponentialRateLimiter<string>({ baseDelayMs: 1000 });
    const fast = new ItemExponentialRateLimiter<string>({ baseDelayMs: 1 });
    const limiter = new MaxOfRateLimiter(fast, slow);
    expect(delays(limiter, 'a', 3)).toEqual([1000, 2000, 4000]);
    expect(fast.retries('a')).toBe(3);
    expect(limiter.retries('a')).toBe(3);
    limiter.forget('a');
    expect(fast.retries('a')).toBe(0);
    expect(slow.retries('a')).toBe(0);
  });

  it('needs at least one limiter', () => {
    expect(() => new MaxOfRateLimiter()).toThrow(RangeError);
  });
});

describe('defaultControllerRateLimiter', () => {
  it('backs off per item, and bounds the overall retry rate', () => {
    const limiter = defaultControllerRateLimiter<string>();
    expect(delays(limiter, 'a', 3)).toEqual([5, 10, 20]);
    // 3 tokens gone; 97 more distinct failures still only see the item backoff...
    const rest = Array.from({ length: 97 }, (_, i) => limiter.when(`item-${i}`));
    expect(rest.every((d) => d === 5)).toBe(true);
    // ...then the bucket is empty and spaces retries 100 ms apart.
    expect(limiter.when('late')).toBe(100);
    expect(limiter.retries('a')).toBe(3);
    limiter.forget('a');
    expect(limiter.retries('a')).toBe(0);
  });
});
