import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bind9, type DnsGate, startBind9, startDnsGate } from '../src/index.js';
import { requireDebian } from '../src/tools.js';

const run = promisify(execFile);

describe('dns gate', () => {
  let bind: Bind9;
  let gate: DnsGate;
  /** dig through the gate; a held query times out after a second. */
  const dig = async (args: string[]) => {
    const { stdout } = await run(requireDebian('dig', 'bind9-dnsutils'), [
      '@127.0.0.1',
      '-p',
      String(gate.port),
      '+short',
      '+tries=1',
      '+time=1',
      ...args,
    ]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    // A timed-out dig reports on stdout, in `;;` comment lines.
    return stdout.split('\n').filter((l) => l && !l.startsWith(';;'));
  };

  beforeAll(async () => {
    bind = await startBind9({
      zones: ['gate.test'],
      records: { 'gate.test': ['www 300 IN A 192.0.2.1', '_acme-challenge 60 IN TXT "token"'] },
    });
    gate = await startDnsGate(bind);
  });
  afterAll(async () => {
    await gate?.stop();
    await bind?.stop();
  });

  it('forwards queries, holds the chosen ones until released, and passes TCP through', async () => {
    expect(await dig(['www.gate.test', 'A'])).toEqual(['192.0.2.1']);
    gate.hold((q) => q.type === 'TXT' && q.name.startsWith('_acme-challenge.'));
    expect(await dig(['_acme-challenge.gate.test', 'TXT'])).toEqual([]);
    expect(await dig(['www.gate.test', 'A'])).toEqual(['192.0.2.1']);
    expect(gate.queries.filter((q) => q.held).map((q) => `${q.name} ${q.type}`)).toEqual([
      '_acme-challenge.gate.test TXT',
    ]);
    gate.release();
    expect(await dig(['_acme-challenge.gate.test', 'TXT'])).toEqual(['"token"']);
    // A zone transfer (TCP, TSIG-signed) goes through untouched.
    const key = `${bind.tsig.algorithm}:${bind.tsig.name}:${bind.tsig.secret}`;
    const axfr = await dig(['-y', key, 'gate.test', 'AXFR']);
    expect(axfr).toContain('192.0.2.1');
  });
});
