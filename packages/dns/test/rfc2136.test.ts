import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { metricsRegistry } from '@chousei/runtime';
import { type Bind9, type DnsGate, startBind9, startDnsGate } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/provider/provider.js';
import {
  answerValue,
  axfrRequest,
  buildUpdate,
  canonicalIPv6,
  DnsTransport,
  encodeRdata,
  errorReply,
  extractTsig,
  type RFC2136Options,
  RFC2136Provider,
  sign,
  TSIG_ERROR,
  TsigVerifier,
  transferEnd,
} from '../src/provider/rfc2136/index.js';
import type { Change, RecordSet, Zone } from '../src/records.js';

const zone: Zone = { id: 'example.test', name: 'example.test' };

/** How many requests the metrics counted with these labels. */
async function requestCount(operation: string, result: string): Promise<number> {
  const metric = metricsRegistry.getSingleMetric('chousei_dns_provider_requests_total');
  const values = (await metric?.get())?.values ?? [];
  const match = values.find(
    (v) =>
      v.labels.provider === 'rfc2136' &&
      v.labels.operation === operation &&
      v.labels.result === result,
  );
  return match?.value ?? 0;
}

describe('record values', () => {
  it('writes presentation values as RDATA and reads them back the same', () => {
    const cases: Array<[RecordSet['type'], string, string]> = [
      ['A', '192.0.2.1', 'c0000201'],
      ['AAAA', '2001:db8::1', '20010db8000000000000000000000001'],
      ['CNAME', 'Target.Example.NET.', '06746172676574076578616d706c65036e657400'],
      ['MX', '10 mail.example.test', '000a046d61696c076578616d706c65047465737400'],
      ['SRV', '10 5 443 svc.example.test', '000a000501bb03737663076578616d706c65047465737400'],
      ['TXT', 'hi', '026869'],
    ];
    for (const [type, value, hex] of cases)
      expect(encodeRdata(type, value).toString('hex')).toBe(hex);
    expect(() => encodeRdata('A', '192.0.2')).toThrow(/not an IPv4/);
    expect(() => encodeRdata('MX', 'mail.example.test')).toThrow(/preference exchange/);
    expect(() => encodeRdata('SRV', '10 5 99999 x.example.test')).toThrow(/port/);
  });

  it('splits TXT values over 255 bytes into several strings of one record', () => {
    const rdata = encodeRdata('TXT', 'x'.repeat(600));
    expect([rdata[0], rdata[256], rdata[512]]).toEqual([255, 255, 90]);
    expect(rdata).toHaveLength(603);
    const value = answerValue({
      type: 'TXT',
      name: 'txt.example.test',
      data: [rdata.subarray(1, 256), rdata.subarray(257, 512), rdata.subarray(513)],
    });
    expect(value).toEqual({ type: 'TXT', value: 'x'.repeat(600) });
  });

  it('reads names without the trailing dot and IPv6 in canonical form', () => {
    expect(
      answerValue({
        type: 'MX',
        name: 'x',
        data: { preference: 5, exchange: 'Mail.Example.Test.' },
      }),
    ).toEqual({ type: 'MX', value: '5 mail.example.test' });
    expect(canonicalIPv6('2001:DB8:0:0:1:0:0:0')).toBe('2001:db8:0:0:1::');
    expect(canonicalIPv6('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(canonicalIPv6('2001:db8:1:1:1:1:0:1')).toBe('2001:db8:1:1:1:1:0:1');
    expect(canonicalIPv6('::ffff:c000:201')).toBe('::ffff:192.0.2.1');
    expect(canonicalIPv6('0:0:0:0:0:0:0:0')).toBe('::');
  });

  it('refuses changes it cannot express before sending anything', () => {
    const record: RecordSet = { name: 'x.example.org', type: 'A', ttl: 60, values: ['192.0.2.1'] };
    expect(() => buildUpdate('example.test', [{ action: 'create', record }], 1)).toThrow(
      /not in zone/,
    );
    const cname: RecordSet = {
      name: 'x.example.test',
      type: 'CNAME',
      ttl: 60,
      values: ['a.test', 'b.test'],
    };
    expect(() => buildUpdate('example.test', [{ action: 'create', record: cname }], 1)).toThrow(
      /one CNAME/,
    );
    // TCP frames a message with 16 bits of length: a longer one could never be sent.
    const txt: RecordSet = {
      name: 'x.example.test',
      type: 'TXT',
      ttl: 60,
      values: Array.from({ length: 300 }, (_, i) => `"${String(i).padEnd(250, 'x')}"`),
    };
    expect(() => buildUpdate('example.test', [{ action: 'create', record: txt }], 1)).toThrow(
      /message of \d+ bytes is over the 65535 a DNS message can carry/,
    );
  });
});

/**
 * A UDP socket and a TCP server on one loopback port, both mute. The port is the UDP one's,
 * so its TCP side may be taken by another process: then another port is tried.
 */
async function muteServer(): Promise<{ port: number; close: () => void }> {
  for (let attempt = 1; ; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    const { port } = udp.address();
    const tcp = createServer(() => {});
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    const close = () => {
      udp.close();
      tcp.close();
    };
    if (listening) return { port, close };
    udp.close();
    if (attempt === 20) throw new Error('no loopback port free on both UDP and TCP');
  }
}

/** The error a promise rejects with. */
async function rejection(p: Promise<unknown>): Promise<ProviderError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe('rfc2136 against BIND9', () => {
  let bind: Bind9;
  const provider = (opts: Partial<RFC2136Options> = {}) =>
    new RFC2136Provider({
      host: bind.host,
      port: bind.port,
      zones: ['example.test'],
      tsig: bind.tsig,
      timeoutMs: 1000,
      ...opts,
    });

  beforeAll(async () => {
    bind = await startBind9({
      zones: ['example.test', 'big.test'],
      records: { 'big.test': bigZone() },
    });
  });
  afterAll(() => bind?.stop());

  it('fails every change with the TSIG error when the secret is wrong, changing nothing', async () => {
    const wrong = provider({ tsig: { ...bind.tsig, secret: randomBytes(32).toString('base64') } });
    const changes: Change[] = [
      {
        action: 'create',
        group: 'g',
        record: { name: 'wrong.example.test', type: 'A', ttl: 60, values: ['192.0.2.1'] },
      },
      {
        action: 'create',
        group: 'g',
        record: { name: 'wrong.example.test', type: 'TXT', ttl: 60, values: ['x'] },
      },
      {
        action: 'create',
        record: { name: 'wrong2.example.test', type: 'A', ttl: 60, values: ['192.0.2.2'] },
      },
    ];
    const res = await wrong.apply(zone, changes);
    expect(res.applied).toEqual([]);
    expect(res.failed).toHaveLength(3);
    for (const { error } of res.failed) {
      expect(error).toBeInstanceOf(ProviderError);
      expect((error as ProviderError).code).toBe('BADSIG');
      // BIND's BADSIG is unsigned (RFC 8945 5.3.2): not verifiable, so not a final verdict.
      expect((error as ProviderError).retryable).toBe(true);
      expect(error.message).toMatch(/unverified reply: TSIG BADSIG.*chousei-update/);
    }
    expect(await bind.dig('wrong.example.test', 'A')).toEqual([]);
    expect(await bind.dig('wrong2.example.test', 'A')).toEqual([]);

    const axfr = await rejection(wrong.records(zone));
    expect(axfr.code).toBe('BADSIG');

    const unknownKey = provider({ tsig: { ...bind.tsig, name: 'nobody' } });
    const res2 = await unknownKey.apply(zone, changes.slice(2));
    expect(res2.failed.map((f) => (f.error as ProviderError).code)).toEqual(['BADKEY']);
  });

  describe('finding 15: a forged TSIG error reply', () => {
    let gate: DnsGate;
    beforeAll(async () => {
      gate = await startDnsGate(bind);
    });
    afterAll(() => gate?.stop());

    // More groups than the provider sends at once: some are still to go when a reply comes.
    const records = (prefix: string): Change[] =>
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n, i) => ({
        action: 'create',
        record: {
          name: `${prefix}-${n}.example.test`,
          type: 'A',
          ttl: 60,
          values: [`192.0.2.${10 + i}`],
        },
      }));

    /** Forges the first UPDATE's reply with `forged`, then lets everything through. */
    const forgeFirstUpdate = (forged: (request: Buffer) => Buffer) => {
      let forgedOne = false;
      gate.forge((q) => {
        const first = q.opcode === 5 && !forgedOne;
        if (first) forgedOne = true;
        return first;
      }, forged);
    };

    it("finding 15: an unsigned BADKEY reply ahead of the server's own aborts nothing: every change lands", async () => {
      // Exactly what BIND sends for an unknown key (RFC 8945 5.3.2), so it cannot be verified.
      forgeFirstUpdate((request) => errorReply(request, TSIG_ERROR.BADKEY));
      const changes = records('forged-unsigned');
      const res = await provider({ host: gate.host, port: gate.port }).apply(zone, changes);
      expect(res.failed.map((f) => f.error.message)).toEqual([]);
      expect(res.applied).toHaveLength(8);
      for (const c of changes) expect(await bind.dig(c.record.name, 'A')).toEqual(c.record.values);
    });

    it('finding 15: a signed-looking BADKEY reply whose MAC does not verify aborts nothing either', async () => {
      forgeFirstUpdate((request) => errorReply(request, TSIG_ERROR.BADKEY, randomBytes(32)));
      const changes = records('forged-signed');
      const res = await provider({ host: gate.host, port: gate.port }).apply(zone, changes);
      expect(res.failed.map((f) => f.error.message)).toEqual([]);
      for (const c of changes) expect(await bind.dig(c.record.name, 'A')).toEqual(c.record.values);
    });

    it('finding 15: forged on every attempt, a group fails retryably, as an unreachable server would', async () => {
      gate.forge(
        (q) => q.opcode === 5,
        (request) => errorReply(request, TSIG_ERROR.BADKEY),
      );
      try {
        const [change] = records('forged-always');
        const res = await provider({ host: gate.host, port: gate.port }).apply(zone, [change!]);
        expect(res.failed).toHaveLength(1);
        const error = res.failed[0]!.error as ProviderError;
        expect(error).toMatchObject({ code: 'BADKEY', retryable: true });
        expect(error.message).toMatch(/^UPDATE: unverified reply: TSIG BADKEY/);
      } finally {
        gate.forge(
          () => false,
          (m) => m,
        );
      }
    });
  });

  it('is refused without a key', async () => {
    const unsigned = provider({ tsig: undefined });
    const record: RecordSet = {
      name: 'unsigned.example.test',
      type: 'A',
      ttl: 60,
      values: ['192.0.2.3'],
    };
    const res = await unsigned.apply(zone, [{ action: 'create', record }]);
    expect(res.failed.map((f) => (f.error as ProviderError).code)).toEqual(['REFUSED']);
    expect(await bind.dig(record.name, 'A')).toEqual([]);
    const axfr = await rejection(unsigned.records(zone));
    expect(axfr.code).toBe('REFUSED');
    expect(axfr.retryable).toBe(false);
  });

  it('without a zone list writes to any zone it is given, leaving the refusal to the server', async () => {
    const open = provider({ zones: undefined });
    expect(await open.zones()).toEqual([]);
    const record: RecordSet = { name: 'open.example.test', type: 'TXT', ttl: 60, values: ['x'] };
    expect((await open.apply(zone, [{ action: 'create', record }])).failed).toEqual([]);
    expect(await bind.dig(record.name, 'TXT')).toEqual(['"x"']);

    const elsewhere: Zone = { id: 'elsewhere.test', name: 'elsewhere.test' };
    const change: Change = { action: 'create', record: { ...record, name: 'a.elsewhere.test' } };
    const res = await open.apply(elsewhere, [change]);
    expect(res.failed.map((f) => (f.error as ProviderError).code)).toEqual(['NOTAUTH']);
    // With a list, a zone outside it is refused before anything is sent.
    const listed = await rejection(provider().apply(elsewhere, [change]));
    expect(listed).toMatchObject({ code: 'NoSuchZone', retryable: false });
  });

  it('names the rcode and what it means when a group is refused', async () => {
    const p = provider();
    const record: RecordSet = {
      name: 'dup.example.test',
      type: 'A',
      ttl: 60,
      values: ['192.0.2.4'],
    };
    expect((await p.apply(zone, [{ action: 'create', record }])).failed).toEqual([]);
    const again = await p.apply(zone, [
      { action: 'create', record },
      { action: 'delete', record: { ...record, values: ['192.0.2.99'] } },
      { action: 'create', record: { ...record, type: 'CNAME', values: ['x.example.net'] } },
      { action: 'create', record: { ...record, name: 'outside.example.org' } },
      { action: 'create', record: { ...record, name: 'bad.example.test', values: ['not-an-ip'] } },
    ]);
    const codes = again.failed.map((f) => (f.error as ProviderError).code);
    expect(codes).toEqual(['YXRRSET', 'NXRRSET', 'YXDOMAIN', 'InvalidChange', 'InvalidChange']);
    expect(again.failed[0]!.error.message).toMatch(/YXRRSET.*dup\.example\.test\/A/);
  });

  it('refuses data next to a CNAME instead of letting BIND ignore it', async () => {
    const p = provider();
    const cname: RecordSet = {
      name: 'alias.example.test',
      type: 'CNAME',
      ttl: 60,
      values: ['t.example.net'],
    };
    expect((await p.apply(zone, [{ action: 'create', record: cname }])).failed).toEqual([]);
    const res = await p.apply(zone, [
      { action: 'create', record: { name: cname.name, type: 'TXT', ttl: 60, values: ['x'] } },
    ]);
    expect(res.failed.map((f) => (f.error as ProviderError).code)).toEqual(['YXRRSET']);
  });

  it('changes the type at a name in one group (delete A, create CNAME)', async () => {
    const p = provider();
    const a: RecordSet = { name: 'swap.example.test', type: 'A', ttl: 60, values: ['192.0.2.5'] };
    expect((await p.apply(zone, [{ action: 'create', record: a }])).failed).toEqual([]);
    const cname: RecordSet = { name: a.name, type: 'CNAME', ttl: 60, values: ['t.example.net'] };
    const res = await p.apply(zone, [
      { action: 'delete', record: a, group: 'swap' },
      { action: 'create', record: cname, group: 'swap' },
    ]);
    expect(res.failed).toEqual([]);
    expect(await bind.dig(a.name, 'CNAME')).toEqual(['t.example.net.']);
  });

  it('throws a retryable ProviderError while the server is down, and works once it is back', async () => {
    const p = provider({ timeoutMs: 500, attempts: 2 });
    const record: RecordSet = {
      name: 'outage.example.test',
      type: 'A',
      ttl: 60,
      values: ['192.0.2.6'],
    };
    await bind.stopServer();
    try {
      const applyErr = await rejection(p.apply(zone, [{ action: 'create', record }]));
      expect(applyErr.retryable).toBe(true);
      expect(applyErr.message).toMatch(/unreachable/);
      const recordsErr = await rejection(p.records(zone));
      expect(recordsErr.retryable).toBe(true);
    } finally {
      await bind.startServer();
    }
    expect((await p.apply(zone, [{ action: 'create', record }])).failed).toEqual([]);
    expect(await bind.dig(record.name, 'A')).toEqual(['192.0.2.6']);
    expect((await p.records(zone)).find((r) => r.name === record.name)?.values).toEqual([
      '192.0.2.6',
    ]);
  });

  it('stops waiting for a server that never answers once its signal aborts', async () => {
    // Bound but mute, on UDP and TCP: requests get neither an answer nor an error.
    const { port, close } = await muteServer();
    try {
      // Without a signal: 3 attempts of 5 s each.
      const p = provider({ host: '127.0.0.1', port, timeoutMs: 5000 });
      const record: RecordSet = {
        name: 'mute.example.test',
        type: 'A',
        ttl: 60,
        values: ['192.0.2.7'],
      };
      const reason = new Error('shutting down');
      for (const call of [
        (signal: AbortSignal) => p.apply(zone, [{ action: 'create', record }], signal),
        (signal: AbortSignal) => p.records(zone, signal),
      ]) {
        const stop = new AbortController();
        setTimeout(() => stop.abort(reason), 200);
        const started = Date.now();
        await expect(call(stop.signal)).rejects.toBe(reason);
        expect(Date.now() - started).toBeLessThan(1500);
      }
    } finally {
      close();
    }
  });

  it('applies a group of 300 records in one UPDATE over TCP, and 200 groups at once', async () => {
    const p = provider();
    const big: Change[] = Array.from({ length: 300 }, (_, i) => ({
      action: 'create',
      group: 'big',
      record: {
        name: `host${i}.bulk.example.test`,
        type: 'TXT',
        ttl: 60,
        values: [`owner=chousei;id=${i}`],
      },
    }));
    const many: Change[] = Array.from({ length: 200 }, (_, i) => ({
      action: 'create',
      record: { name: `many${i}.example.test`, type: 'A', ttl: 60, values: [`192.0.2.${i}`] },
    }));
    const res = await p.apply(zone, [...big, ...many]);
    expect(res.failed).toEqual([]);
    expect(res.applied).toHaveLength(500);
    const records = await p.records(zone);
    expect(records.filter((r) => r.name.endsWith('.bulk.example.test'))).toHaveLength(300);
    expect(records.filter((r) => r.name.startsWith('many'))).toHaveLength(200);
    expect(await bind.dig('host299.bulk.example.test', 'TXT')).toEqual(['"owner=chousei;id=299"']);
  });

  it('reads a zone of 2000 records, transferred in many signed messages', async () => {
    const p = provider({ zones: ['big.test'] });
    const records = await p.records({ id: 'big.test', name: 'big.test' });
    const txt = records.filter((r) => r.type === 'TXT');
    expect(txt).toHaveLength(2000);
    expect(txt.find((r) => r.name === 'r1999.big.test')?.values).toEqual([
      `${'v'.repeat(120)}1999`,
    ]);
    expect(records.find((r) => r.type === 'NS')?.values).toEqual(['ns.big.test']);

    // The same transfer by hand: it really is several messages, every one verified.
    const transport = new DnsTransport({ host: bind.host, port: bind.port });
    const request = sign(axfrRequest('big.test', 42), bind.tsig);
    const { result: replies } = await transport.stream(request.wire, transferEnd());
    expect(replies.length).toBeGreaterThan(1);
    const verifier = new TsigVerifier(bind.tsig, request.mac);
    for (const reply of replies) verifier.verify(reply);
    verifier.finish();
    expect(extractTsig(replies.at(-1)!)).toBeDefined();
  });

  it('refuses a request too long for TCP framing, without sending it', async () => {
    const transport = new DnsTransport({ host: bind.host, port: bind.port });
    const request = Buffer.alloc(0x10000);
    await expect(transport.exchange(request)).rejects.toThrow(
      'message of 65536 bytes is over the 65535 a DNS message can carry',
    );
  });

  it('counts requests in the metrics', async () => {
    const text = await metricsRegistry.metrics();
    expect(text).toMatch(
      /chousei_dns_provider_requests_total\{provider="rfc2136",operation="update",result="success"\} \d+/,
    );
    expect(await requestCount('axfr', 'error')).toBeGreaterThan(0);
    expect(text).toMatch(/operation="update",result="YXRRSET"/);
    expect(text).toMatch(
      /chousei_dns_provider_request_duration_seconds_count\{provider="rfc2136",operation="axfr"\}/,
    );
  });

  describe('when a reply is lost', () => {
    let proxy: Socket;
    let dropped = 0;
    beforeAll(async () => {
      proxy = await lossyProxy(bind.port, () => dropped++ === 0);
    });
    afterAll(() => proxy?.close());

    it('retries, and recognises an update an earlier attempt already applied', async () => {
      const p = provider({ port: proxy.address().port, timeoutMs: 300 });
      const record: RecordSet = {
        name: 'lost.example.test',
        type: 'A',
        ttl: 60,
        values: ['192.0.2.8'],
      };
      const refusedBefore = await requestCount('update', 'YXRRSET');
      const res = await p.apply(zone, [{ action: 'create', record }]);
      // The first reply was lost; the retry met its own earlier success (YXRRSET), and a
      // prerequisite-only check found the record in place.
      expect(dropped).toBe(3);
      expect(await requestCount('update', 'YXRRSET')).toBe(refusedBefore + 1);
      expect(res.failed).toEqual([]);
      expect(await bind.dig(record.name, 'A')).toEqual(['192.0.2.8']);
    });
  });
});

function bigZone(): string[] {
  return Array.from({ length: 2000 }, (_, i) => `r${i} 300 IN TXT "${'v'.repeat(120)}${i}"`);
}

/** A UDP proxy to 127.0.0.1:`port` that drops the replies `drop` says to. */
function lossyProxy(port: number, drop: () => boolean): Promise<Socket> {
  return new Promise((resolve) => {
    const front = createSocket('udp4');
    front.on('message', (msg, client) => {
      const back = createSocket('udp4');
      back.on('message', (answer) => {
        back.close();
        if (!drop()) front.send(answer, client.port, client.address);
      });
      back.send(msg, port, '127.0.0.1');
    });
    front.bind(0, '127.0.0.1', () => resolve(front));
  });
}
