import { InMemoryProvider, type RecordSet } from '@chousei/dns';
import { Client, Events, Ingresses, Services } from '@chousei/runtime';
import { type RunningManager, waitFor } from '@chousei/runtime/testing';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DNSEndpoints, dnsEndpointCRD } from '../src/api/dnsendpoint.js';
import { FINALIZER } from '../src/operator.js';
import { startDnsOperator } from './operator.js';

describe('dns-operator with the in-memory provider', () => {
  let client: Client;
  let ns: string;
  let running: RunningManager;
  const provider = new InMemoryProvider(['example.test']);
  const zone = { id: 'example.test', name: 'example.test' };
  const records = async (name: string) =>
    (await provider.records(zone))
      .filter((r) => r.name === name)
      .sort((a, b) => a.type.localeCompare(b.type));
  const valuesOf = async (name: string, type: RecordSet['type']) =>
    (await records(name)).find((r) => r.type === type)?.values.sort() ?? [];

  beforeAll(async () => {
    const cluster = await sharedCluster();
    await cluster.apply([dnsEndpointCRD]);
    ns = await cluster.createNamespace('dnsop');
    client = new Client(cluster.kubeConfig);
    running = await startDnsOperator({
      provider,
      sources: ['ingress', 'service', 'dnsendpoint'],
      ownerId: 'test-owner',
      namespace: ns,
      managedTypes: ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX'],
    });
  });
  afterAll(() => running?.stop());

  const setLb = (name: string, lb: Array<{ ip?: string; hostname?: string }>) =>
    client.patchStatus(
      Ingresses,
      { namespace: ns, name },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: lb } } } },
    );

  it('publishes an Ingress host with its ownership TXT, follows changes and removes it on delete', async () => {
    await client.create(Ingresses, {
      metadata: { name: 'web', namespace: ns },
      spec: { rules: [{ host: 'web.example.test' }] },
    });
    await setLb('web', [{ ip: '192.0.2.10' }]);
    await waitFor(async () => (await valuesOf('web.example.test', 'A')).join() === '192.0.2.10');
    expect(await valuesOf('a-web.example.test', 'TXT')).toEqual([
      `heritage=external-dns,external-dns/owner=test-owner,external-dns/resource=ingress/${ns}/web`,
    ]);
    // Added by the Ingress controller, not the one that published: it may trail the record
    // (its guarded write can lose to the status write above and go again).
    const ing = await waitFor(async () => {
      const i = await client.get(Ingresses, { namespace: ns, name: 'web' });
      return i.metadata?.finalizers?.length && i;
    });
    expect(ing.metadata?.finalizers).toContain(FINALIZER);

    // Empty load-balancer status: the record stays.
    await setLb('web', []);
    await new Promise((r) => setTimeout(r, 500));
    expect(await valuesOf('web.example.test', 'A')).toEqual(['192.0.2.10']);

    // Host change: the old name goes, the new one comes.
    await setLb('web', [{ hostname: 'lb.example.net' }]);
    await client.patch(
      Ingresses,
      { namespace: ns, name: 'web' },
      { type: 'merge', patch: { spec: { rules: [{ host: 'www.example.test' }] } } },
    );
    await waitFor(
      async () => (await valuesOf('www.example.test', 'CNAME')).join() === 'lb.example.net',
    );
    await waitFor(
      async () =>
        (await records('web.example.test')).length === 0 &&
        (await records('a-web.example.test')).length === 0,
    );

    await client.delete(Ingresses, { namespace: ns, name: 'web' });
    await waitFor(async () => (await records('www.example.test')).length === 0);
    await waitFor(() =>
      client.get(Ingresses, { namespace: ns, name: 'web' }).then(
        () => false,
        () => true,
      ),
    );
  });

  it('merges one host across an Ingress and a Service, and never touches records it does not own', async () => {
    await provider.apply(zone, [
      {
        action: 'create',
        record: { name: 'manual.example.test', type: 'A', ttl: 60, values: ['198.51.100.1'] },
      },
    ]);
    await client.create(Ingresses, {
      metadata: { name: 'shop', namespace: ns },
      spec: { rules: [{ host: 'shop.example.test' }, { host: 'manual.example.test' }] },
    });
    await setLb('shop', [{ ip: '192.0.2.20' }]);
    await client.create(Services, {
      metadata: {
        name: 'shop-lb',
        namespace: ns,
        annotations: { 'external-dns.alpha.kubernetes.io/hostname': 'shop.example.test' },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
    });
    await client.patchStatus(
      Services,
      { namespace: ns, name: 'shop-lb' },
      { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.21' }] } } } },
    );
    await waitFor(
      async () => (await valuesOf('shop.example.test', 'A')).join() === '192.0.2.20,192.0.2.21',
    );
    expect(await valuesOf('manual.example.test', 'A')).toEqual(['198.51.100.1']);
    expect(await records('a-manual.example.test')).toEqual([]);
  });

  it('reports bad input as a Warning Event naming the field, and publishes the rest', async () => {
    await client.create(Ingresses, {
      // The API server validates rule hosts itself; annotations reach us unchecked.
      metadata: {
        name: 'mixed',
        namespace: ns,
        annotations: {
          'external-dns.alpha.kubernetes.io/ttl': 'soon',
          'external-dns.alpha.kubernetes.io/hostname': 'also.example.test,bad_host!.example.test',
        },
      },
      spec: { rules: [{ host: 'ok.example.test' }] },
    });
    await setLb('mixed', [{ ip: '192.0.2.30' }]);
    await waitFor(async () => (await valuesOf('ok.example.test', 'A')).join() === '192.0.2.30');
    await waitFor(async () => (await valuesOf('also.example.test', 'A')).join() === '192.0.2.30');
    const notes = await waitFor(async () => {
      const events = await client.list(Events, { namespace: ns });
      const mine = events
        .filter((e) => e.regarding?.name === 'mixed' && e.reason === 'InvalidInput')
        .map((e) => e.note ?? '');
      return mine.length >= 2 && mine;
    });
    expect(notes.join('\n')).toMatch(
      /metadata\.annotations\[external-dns\.alpha\.kubernetes\.io\/hostname\].*bad_host/,
    );
    expect(notes.join('\n')).toMatch(
      /metadata\.annotations\[external-dns\.alpha\.kubernetes\.io\/ttl\]/,
    );
    expect((await provider.records(zone)).some((r) => r.name.startsWith('bad_host'))).toBe(false);
  });

  it('publishes DNSEndpoints and reports per endpoint whether it is published', async () => {
    await client.create(DNSEndpoints, {
      metadata: { name: 'records', namespace: ns },
      spec: {
        endpoints: [
          {
            dnsName: '_sip._tcp.example.test',
            recordType: 'SRV',
            targets: ['10 5 5060 sip.example.test.'],
            recordTTL: 120,
          },
          { dnsName: 'txt.example.test', recordType: 'TXT', targets: ['hello'] },
          { dnsName: 'outside.other.test', recordType: 'A', targets: ['192.0.2.1'] },
        ],
      },
    });
    await waitFor(
      async () =>
        (await valuesOf('_sip._tcp.example.test', 'SRV')).join() === '10 5 5060 sip.example.test',
    );
    const status = await waitFor(async () => {
      const de = await client.get(DNSEndpoints, { namespace: ns, name: 'records' });
      const eps = de.status?.endpoints ?? [];
      return (
        eps.length === 3 &&
        eps[0]?.published &&
        eps[1]?.published &&
        eps[2]?.reason === 'NoZone' &&
        eps
      );
    });
    expect(status[2]?.message).toMatch(/outside every managed zone/);
  });
});

describe('dns-operator full resync', () => {
  const provider = new InMemoryProvider(['drift.test']);
  const zone = { id: 'drift.test', name: 'drift.test' };
  const recordAt = async (name: string) =>
    (await provider.records(zone)).find((r) => r.name === name && r.type === 'A');
  let running: RunningManager;
  let client: Client;
  let ns: string;

  beforeAll(async () => {
    const cluster = await sharedCluster();
    ns = await cluster.createNamespace('dnsresync');
    client = new Client(cluster.kubeConfig);
    running = await startDnsOperator({
      provider,
      sources: ['ingress'],
      ownerId: 'test-owner',
      namespace: ns,
      resyncIntervalMs: 1000,
    });
  });
  afterAll(() => running?.stop());

  it('repairs records changed or deleted outside the operator, and keeps the others', async () => {
    for (const [i, host] of ['keep', 'gone', 'edited'].entries()) {
      await client.create(Ingresses, {
        metadata: {
          name: host,
          namespace: ns,
          annotations: { 'dns.chousei.dev/target': `192.0.2.${i + 1}` },
        },
        spec: { rules: [{ host: `${host}.drift.test` }] },
      });
    }
    await waitFor(async () => (await recordAt('edited.drift.test')) !== undefined);
    await waitFor(async () => (await recordAt('gone.drift.test')) !== undefined);
    const kept = await recordAt('keep.drift.test');

    // Someone with access to the zone deletes one record and edits another.
    const gone = (await recordAt('gone.drift.test'))!;
    const edited = (await recordAt('edited.drift.test'))!;
    await provider.apply(zone, [
      { action: 'delete', record: gone },
      { action: 'update', old: edited, record: { ...edited, values: ['198.51.100.9'] } },
    ]);

    await waitFor(async () => (await recordAt('gone.drift.test'))?.values.join() === '192.0.2.2');
    await waitFor(async () => (await recordAt('edited.drift.test'))?.values.join() === '192.0.2.3');
    expect(await recordAt('keep.drift.test')).toEqual(kept);
  });
});
