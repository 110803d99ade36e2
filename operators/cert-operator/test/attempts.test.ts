import { describe, expect, it, vi } from 'vitest';
import type { Certificate } from '../src/api/types.js';
import { Attempts } from '../src/controllers/certificate/attempt.js';

const cert = (name: string): Certificate => ({
  metadata: { namespace: 'ns', name, uid: name, generation: 1 },
  spec: { secretName: `${name}-tls`, issuerRef: { name: 'acme' } },
});

describe('turns of ACME orders (Attempts)', () => {
  it('gives at most `concurrency` turns, and a freed one to the first in line, once', () => {
    const attempts = new Attempts(2);
    const told: string[] = [];
    const claim = (name: string) => attempts.claim(cert(name), () => told.push(name));
    expect([claim('a'), claim('b')]).toEqual([true, true]);
    // None free: each waits once, however often it asks.
    expect([claim('c'), claim('d'), claim('c')]).toEqual([false, false, false]);
    attempts.release();
    expect(told).toEqual(['c']);
    expect(claim('c')).toBe(true);
    expect(claim('e')).toBe(false);
    attempts.release();
    attempts.release();
    expect(told).toEqual(['c', 'd', 'e']);
  });

  it('drops a Certificate from the line when it is deleted before its turn', async () => {
    const attempts = new Attempts(1);
    const told: string[] = [];
    expect(attempts.claim(cert('a'), () => told.push('a'))).toBe(true);
    expect(attempts.claim(cert('gone'), () => told.push('gone'))).toBe(false);
    expect(attempts.claim(cert('b'), () => told.push('b'))).toBe(false);
    await attempts.stop(cert('gone'), 'deleted');
    attempts.release();
    expect(told).toEqual(['b']);
  });

  it('keeps a freed turn for the one told, and passes it on when that one does not come', () => {
    vi.useFakeTimers();
    try {
      const attempts = new Attempts(1);
      const told: string[] = [];
      const claim = (name: string) => attempts.claim(cert(name), () => told.push(name));
      expect([claim('a'), claim('b'), claim('c')]).toEqual([true, false, false]);
      attempts.release();
      expect(told).toEqual(['b']);
      // Kept for b: no one else takes it meanwhile.
      expect(attempts.open(cert('x'))).toBe(false);
      expect(attempts.open(cert('b'))).toBe(true);
      vi.advanceTimersByTime(5000);
      expect(told).toEqual(['b', 'c']);
      expect(claim('c')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
