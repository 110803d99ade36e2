import { describe, expect, it } from 'vitest';
import { freePort } from '../src/ports.js';

describe('freePort', () => {
  it('never hands out a port twice, though the kernel may offer one again', async () => {
    const ports = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort(i % 2 === 0));
    expect(new Set(ports).size).toBe(ports.length);
  });
});
