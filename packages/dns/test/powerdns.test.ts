import { createServer, type Server } from 'node:net';
import {
  type PowerDNS,
  SERVICE_UNAVAILABLE,
  startFaultProxy,
  startPowerDNS,
} from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerDNSProvider } from '../src/provider/powerdns/index.js';
import { ProviderError } from '../src/provider/provider.js';
import type { Change, RecordSet, Zone } from '../src/records.js';
import { digValues } from './dig.js';

const ZONE: Zone = { id: 'example.test.', name: 'example.test' };
const a = (sub: string, ...values: string[]): RecordSet => ({
  name: `${sub}.example.test`,
  type: 'A',
  ttl: 300,
  values,
});
const failures = (res: { failed: Array<{ change: Change; error: Error }> }) =>
  res.failed.map((f) => `${f.change.record.name}: ${f.error.message}`);

describe('PowerDNSProvider against pdns_server', () => {
  let pdns: PowerDNS;
  let provider: PowerDNSProvider;

  beforeAll(async () => {
    pdns = await startPowerDNS();
    provider = new PowerDNSProvider({
      server: pdns.apiUrl,
      apiKey: pdns.apiKey,
      backoff: { initialMs: 20, maxMs: 100 },
    });
  });
  afterAll(() => pdns?.stop());

  it('refuses what PowerDNS would overwrite silently, naming the zone and the record set', async () => {
    await provider.apply(ZONE, [{ action: 'create', record: a('keep', '192.0.2.1') }]);
    const res = await provider.apply(ZONE, [
      { action: 'create', record: a('keep', '192.0.2.66') },
      { action: 'update', old: a('keep', '192.0.2.99'), record: a('keep', '192.0.2.67') },
      { action: 'delete', record: a('keep', '192.0.2.98') },
    ]);
    expect(failures(res)).toEqual([
      'keep.example.test: keep.example.test/A already exists in zone example.test',
      'keep.example.test: keep.example.test/A not found as given in zone example.test',
      'keep.example.test: keep.example.test/A not found as given in zone example.test',
    ]);
    expect(await pdns.dig('keep.example.test', 'A')).toEqual(['192.0.2.1']);
  });

  it('lands the good groups of a PATCH PowerDNS refuses, and fails the bad one with its message', async () => {
    const bad: RecordSet = {
      name: 'mail.example.test',
      type: 'MX',
      ttl: 300,
      values: ['not-a-number mx.example.net'],
    };
    const res = await provider.apply(ZONE, [
      { action: 'create', group: 'g1', record: a('good1', '192.0.2.31') },
      { action: 'create', group: 'bad', record: bad },
      { action: 'create', group: 'g2', record: a('good2', '192.0.2.32') },
    ]);
    expect(res.applied.map((c) => c.group)).toEqual(['g1', 'g2']);
    expect(res.failed).toHaveLength(1);
    const error = res.failed[0]!.error as ProviderError;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.code).toBe('Unprocessable');
    expect(error.message).toContain(
      `PATCH of zone example.test: ${pdns.apiUrl} refused with HTTP 422`,
    );
    expect(error.message).toContain('mail.example.test');
    expect(await digValues(pdns, 'good1.example.test', 'A')).toEqual(['192.0.2.31']);
    expect(await digValues(pdns, 'good2.example.test', 'A')).toEqual(['192.0.2.32']);
    expect(await pdns.dig('mail.example.test', 'MX')).toEqual([]);
  });

  it('retries a PATCH whose reply was lost after it landed, and lands it once', async () => {
    let patches = 0;
    const proxy = await startFaultProxy(pdns.apiUrl, (req) =>
      req.method === 'PATCH' && patches++ === 0
        ? { ...SERVICE_UNAVAILABLE, afterForward: true }
        : undefined,
    );
    try {
      const through = new PowerDNSProvider({
        server: proxy.endpoint,
        apiKey: pdns.apiKey,
        backoff: { initialMs: 20, maxMs: 100 },
      });
      const res = await through.apply(ZONE, [
        { action: 'create', record: { ...a('lost'), type: 'TXT', values: ['v=1', 'v=2'] } },
      ]);
      expect(failures(res)).toEqual([]);
      expect((await digValues(pdns, 'lost.example.test', 'TXT')).sort()).toEqual(['v=1', 'v=2']);
      expect(proxy.seen.filter((r) => r.method === 'PATCH').map((r) => r.upstream)).toEqual([
        204, 204,
      ]);
    } finally {
      await proxy.close();
    }
  });

  it('names the server and the API key when the key is wrong', async () => {
    const wrong = new PowerDNSProvider({ server: pdns.apiUrl, apiKey: 'wrong' });
    const err = await wrong.zones().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'Unauthorized', retryable: false, provider: 'pdns' });
    expect((err as Error).message).toBe(
      `listing zones: ${pdns.apiUrl} refused with HTTP 401: Unauthorized (is the API key right?)`,
    );
  });

  it('reports the server unreachable after its retries, and works again once it is back', async () => {
    await pdns.stopServer();
    try {
      const err = await provider.records(ZONE).catch((e: unknown) => e);
      expect(err).toMatchObject({ provider: 'pdns', code: 'ECONNREFUSED', retryable: true });
      expect((err as Error).message).toMatch(
        new RegExp(
          `^GetZone \\(GET /api/v1/servers/localhost/zones/example.test.\\): ${pdns.apiUrl} unreachable after 4 attempts`,
        ),
      );
    } finally {
      await pdns.startServer();
    }
    expect((await provider.records(ZONE)).map((r) => r.name)).toContain('keep.example.test');
  });

  it('gives up on a server that accepts the connection and never answers, at the deadline', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const stalled = new PowerDNSProvider({
        server: `http://127.0.0.1:${port}`,
        apiKey: 'k',
        timeoutMs: 200,
        maxRetries: 1,
        backoff: { initialMs: 10, maxMs: 10 },
      });
      const started = performance.now();
      const err = await stalled.zones().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true });
      expect((err as Error).message).toContain('unreachable after 2 attempts: timed out');
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      silent.close();
    }
  });
});
