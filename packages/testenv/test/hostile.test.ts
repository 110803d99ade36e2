import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkParser, machineSlowdown } from '../src/hostile.js';

describe('checkParser', () => {
  it('fails a parser that goes quadratic, whatever the slowdown of this machine', () => {
    const quadratic = (text: string) => {
      let n = 0;
      for (let i = 0; i < text.length; i++) for (let j = i; j < text.length; j++) n += j;
      return n;
    };
    expect(() =>
      checkParser({
        parser: 'quadratic',
        inputs: fc.constant('x'.repeat(40_000)),
        run: quadratic,
        typed: () => false,
        size: (s) => s.length,
        numRuns: 1,
      }),
    ).toThrow(/quadratic on 40000 took \d+\.\d ms \(over 50 ms x \d+\.\d/);
  });

  it('measures this machine against the reference it was set on, never below 1', () => {
    const slowdown = machineSlowdown();
    expect(slowdown).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(slowdown)).toBe(true);
  });
});
