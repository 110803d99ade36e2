import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/ports.js';

describe('freePort', () => {
  it('never hands out a port twice, nor one the kernel may assign by itself', async () => {
    const ports = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort(i % 2 === 0));
    expect(new Set(ports).size).toBe(ports.length);
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/);
    expect(Math.max(...ports)).toBeLessThan(Number(low));
  });
});
