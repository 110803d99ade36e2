import { describe, expect, it } from 'vitest';
import { RenewalInfoSchedule } from '../src/controllers/renewal-info.js';

describe('RenewalInfoSchedule', () => {
  it('asks first at a random point within the interval, then every interval', () => {
    const hour = 3_600_000;
    const schedule = new RenewalInfoSchedule(6 * hour, () => 0.5);
    expect(schedule.dueIn('a', 'cert-1', 0)).toBe(3 * hour);
    expect(schedule.dueIn('a', 'cert-1', 3 * hour)).toBe(0);
    schedule.asked('a', 'cert-1', 3 * hour);
    expect(schedule.dueIn('a', 'cert-1', 4 * hour)).toBe(5 * hour);
    // A new certificate (renewed elsewhere, or the Secret replaced) starts over.
    expect(schedule.dueIn('a', 'cert-2', 4 * hour)).toBe(3 * hour);
    // Issued with its window just fetched: nothing to ask for an interval.
    schedule.asked('b', 'cert-3', 0);
    expect(schedule.dueIn('b', 'cert-3', 0)).toBe(6 * hour);
    schedule.forget('b');
    expect(schedule.dueIn('b', 'cert-3', 0)).toBe(3 * hour);
    expect(() => new RenewalInfoSchedule(0)).toThrow('intervalMs must be positive, got 0');
  });
});
