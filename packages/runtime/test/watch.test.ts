import { type ControlPlane, startControlPlane } from '@chousei/testenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Informer } from '../src/cache/informer.js';
import { Client } from '../src/client/client.js';
import { ConfigMaps } from '../src/client/resource.js';
import type { ConfigMap } from '../src/client/types.js';
import { metricsRegistry } from '../src/metrics/registry.js';
import { type WatchEvent, Watcher } from '../src/watch/watcher.js';

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val),
  );
  return match?.value ?? 0;
}

// Own control plane: these tests restart and freeze the API server.
describe('watcher against a restarting and stalling API server', () => {
  let cp: ControlPlane;
  let client: Client;
  let ns: string;
  const abort = new AbortController();
  let informer: Informer<ConfigMap>;

  beforeAll(async () => {
    cp = await startControlPlane();
    client = new Client(cp.kubeConfig);
    ns = await cp.createNamespace('watch');
    await client.create(ConfigMaps, { metadata: { name: 'cm', namespace: ns }, data: { v: '0' } });
    informer = new Informer(client.transport, ConfigMaps, {
      namespace: ns,
      inactivityTimeoutMs: 1500,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    void informer.start(abort.signal);
    await informer.waitForSync();
  });
  afterAll(async () => {
    abort.abort();
    await cp?.stop();
  });

  const valueSeen = () => informer.store.get(`${ns}/cm`)?.data?.v;
  const setValue = (v: string) =>
    client.patch(
      ConfigMaps,
      { namespace: ns, name: 'cm' },
      { type: 'merge', patch: { data: { v } } },
    );

  it('issue 16: counts relists and reconnects by reason from 0, before any reconnect', async () => {
    const reconnects = await metricsRegistry
      .getSingleMetric('chousei_watch_reconnects_total')
      ?.get();
    expect(
      reconnects?.values
        .filter((v) => v.labels.resource === 'ConfigMap')
        .map((v) => `${v.labels.reason} ${v.value}`)
        .sort(),
    ).toEqual(['closed 0', 'error 0', 'gone 0', 'stalled 0']);
  });

  it('survives an API server restart without missing an update', async () => {
    await setValue('1');
    await expect.poll(valueSeen).toBe('1');
    await cp.restartApiServer();
    await setValue('2');
    await expect.poll(valueSeen, { timeout: 15_000 }).toBe('2');
  });

  it('detects a silent stall and catches up with the update made during it', async () => {
    const stalledBefore = await metricValue('chousei_watch_reconnects_total', {
      resource: 'ConfigMap',
      reason: 'stalled',
    });
    cp.pauseApiServer();
    // This write hangs until the server thaws; the watcher must see it afterwards even
    // though its old connection was dropped as stalled.
    const write = setValue('3');
    await new Promise((r) => setTimeout(r, 2500));
    cp.resumeApiServer();
    await write;
    await expect.poll(valueSeen, { timeout: 15_000 }).toBe('3');
    expect(
      await metricValue('chousei_watch_reconnects_total', {
        resource: 'ConfigMap',
        reason: 'stalled',
      }),
    ).toBeGreaterThan(stalledBefore);
  });

  it('lists again on 410 Gone and reports the complete current state', async () => {
    const list = await client.listPage(ConfigMaps, { namespace: ns });
    const staleRv = list.metadata.resourceVersion!;
    await setValue('4');
    await client.create(ConfigMaps, { metadata: { name: 'late', namespace: ns } });
    // A restarted API server keeps no history older than its start: staleRv is gone.
    await cp.restartApiServer();
    const watcher = new Watcher(client.transport, ConfigMaps, {
      namespace: ns,
      resourceVersion: staleRv,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    const goneBefore = await metricValue('chousei_watch_reconnects_total', {
      resource: 'ConfigMap',
      reason: 'gone',
    });
    const stop = new AbortController();
    let first: WatchEvent<ConfigMap> | undefined;
    for await (const ev of watcher.events(stop.signal)) {
      first = ev;
      stop.abort();
    }
    expect(first?.type).toBe('relist');
    const objects = first?.type === 'relist' ? first.objects : [];
    expect(objects.map((o) => o.metadata?.name).sort()).toEqual(['cm', 'late']);
    expect(objects.find((o) => o.metadata?.name === 'cm')?.data?.v).toBe('4');
    expect(
      await metricValue('chousei_watch_reconnects_total', {
        resource: 'ConfigMap',
        reason: 'gone',
      }),
    ).toBe(goneBefore + 1);
  });
});
