import {
  type Bind9,
  type ExternalDnsWebhook,
  startBind9,
  startExternalDnsWebhook,
} from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../src/provider/provider.js';
import { MEDIA_TYPE, WebhookProvider } from '../src/provider/webhook/index.js';
import type { RecordSet, Zone } from '../src/records.js';
import { digValues } from './dig.js';

const ZONE: Zone = { id: 'example.test', name: 'example.test' };
const fast = { backoff: { initialMs: 20, maxMs: 50 } };

/** The endpoints external-dns's webhook server lists, as JSON. */
async function listed(url: string) {
  const res = await fetch(`${url}/records`, { headers: { Accept: MEDIA_TYPE } });
  return (await res.json()) as Array<Record<string, unknown>>;
}

describe('WebhookProvider against external-dns v0.22 (in-memory provider)', () => {
  let webhook: ExternalDnsWebhook;
  let provider: WebhookProvider;
  beforeAll(async () => {
    webhook = await startExternalDnsWebhook({
      backend: { provider: 'inmemory', zones: ['example.test'] },
    });
    provider = new WebhookProvider({ url: webhook.url, zones: ['example.test'], ...fast });
  });
  afterAll(() => webhook?.stop());

  it("keeps the provider-specific properties of a set it updates (e.g. a sidecar's proxied flag)", async () => {
    // Written by someone else through the same API, with a property of the provider's own.
    const res = await fetch(`${webhook.url}/records`, {
      method: 'POST',
      headers: { 'Content-Type': MEDIA_TYPE },
      body: JSON.stringify({
        create: [
          {
            dnsName: 'proxied.example.test',
            recordType: 'A',
            recordTTL: 300,
            targets: ['192.0.2.1'],
            providerSpecific: [{ name: 'webhook/proxied', value: 'true' }],
          },
        ],
      }),
    });
    expect(res.status).toBe(204);
    const [current] = (await provider.records(ZONE)).filter(
      (r) => r.name === 'proxied.example.test',
    );
    const next: RecordSet = { ...current!, values: ['192.0.2.2'] };
    const out = await provider.apply(ZONE, [{ action: 'update', old: current!, record: next }]);
    expect(out.failed).toEqual([]);
    expect(
      (await listed(webhook.url)).find((e) => e.dnsName === 'proxied.example.test'),
    ).toMatchObject({
      targets: ['192.0.2.2'],
      providerSpecific: [{ name: 'webhook/proxied', value: 'true' }],
    });
  });

  it('writes TXT values quoted, as external-dns does, and reads them back as written', async () => {
    const record: RecordSet = {
      name: 'txt.example.test',
      type: 'TXT',
      ttl: 60,
      values: ['say "hi"', 'heritage=external-dns,external-dns/owner=x'],
    };
    expect((await provider.apply(ZONE, [{ action: 'create', record }])).failed).toEqual([]);
    const ep = (await listed(webhook.url)).find((e) => e.dnsName === 'txt.example.test');
    expect(ep?.targets).toEqual(['"say \\"hi\\""', '"heritage=external-dns,external-dns/owner=x"']);
    expect((await provider.records(ZONE)).find((r) => r.name === record.name)).toEqual(record);
  });

  it('refuses a server that does not answer with the webhook media type', async () => {
    // The health port answers 200 text/plain: not an external-dns webhook provider.
    const wrong = new WebhookProvider({ url: webhook.healthUrl, zones: ['example.test'] });
    const err = await wrong.zones().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'WrongMediaType', retryable: false });
    expect((err as Error).message).toContain(`not ${MEDIA_TYPE}`);
  });

  it('needs zones when the provider announces no domains', async () => {
    const bare = new WebhookProvider({ url: webhook.url });
    await expect(bare.zones()).rejects.toThrow(
      `${webhook.url} announces no domains in its domain filter: name the zones`,
    );
  });

  it('reports the provider unreachable after its retries, and works again once it is back', async () => {
    await webhook.stopServer();
    try {
      const err = await provider.records(ZONE).catch((e: unknown) => e);
      expect(err).toMatchObject({ provider: 'webhook', code: 'ECONNREFUSED', retryable: true });
      expect((err as Error).message).toBe(
        `Records (GET /records): ${webhook.url} unreachable after 5 attempts: connect ECONNREFUSED 127.0.0.1:${new URL(webhook.url).port} (ECONNREFUSED)`,
      );
    } finally {
      await webhook.startServer();
    }
    // The in-memory provider came back empty.
    expect(await provider.records(ZONE)).toEqual([]);
  });
});

describe('WebhookProvider against external-dns v0.22 (RFC2136 provider on BIND9)', () => {
  let bind: Bind9;
  let webhook: ExternalDnsWebhook;
  let provider: WebhookProvider;
  beforeAll(async () => {
    bind = await startBind9({ zones: ['example.test'] });
    webhook = await startExternalDnsWebhook({ backend: { provider: 'rfc2136', server: bind } });
    provider = new WebhookProvider({ url: webhook.url, zones: ['example.test'], ...fast });
  });
  afterAll(async () => {
    await webhook?.stop();
    await bind?.stop();
  });

  it('lands the good groups of a POST the provider refuses, and fails the bad one with its answer', async () => {
    // BIND9 refuses an MX whose in-zone exchange has no address: external-dns answers 500
    // for the whole batch, so the groups are settled by listing and resent apart.
    const a = (sub: string, ip: string): RecordSet => ({
      name: `${sub}.example.test`,
      type: 'A',
      ttl: 300,
      values: [ip],
    });
    const bad: RecordSet = {
      name: 'mail.example.test',
      type: 'MX',
      ttl: 300,
      values: ['10 nohost.example.test'],
    };
    const out = await provider.apply(ZONE, [
      { action: 'create', group: 'g1', record: a('good1', '192.0.2.41') },
      { action: 'create', group: 'bad', record: bad },
      { action: 'create', group: 'g2', record: a('good2', '192.0.2.42') },
    ]);
    expect(out.applied.map((c) => c.group).sort()).toEqual(['g1', 'g2']);
    expect(out.failed.map((f) => f.change.group)).toEqual(['bad']);
    expect(out.failed[0]!.error.message).toBe(
      `POST /records: ${webhook.url} answered HTTP 500: (empty body)`,
    );
    expect(await digValues(bind, 'good1.example.test', 'A')).toEqual(['192.0.2.41']);
    expect(await digValues(bind, 'good2.example.test', 'A')).toEqual(['192.0.2.42']);
    expect(await bind.dig('mail.example.test', 'MX')).toEqual([]);
  });
});
