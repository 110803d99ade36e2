import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../src/cache/cache.js';
import { Informer } from '../src/cache/informer.js';
import { byOwnerUid } from '../src/cache/store.js';
import { Client } from '../src/client/client.js';
import { ConfigMaps, Secrets } from '../src/client/resource.js';
import type { ConfigMap } from '../src/client/types.js';

describe('cache', () => {
  let client: Client;
  let cache: Cache;
  let ns: string;
  const abort = new AbortController();

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('cache');
    cache = new Cache(client.transport);
    cache.start(abort.signal);
  });
  afterAll(() => abort.abort());

  it('shares one informer per kind, scope and selector', () => {
    const a = cache.informer(ConfigMaps, { namespace: ns });
    expect(cache.informer(ConfigMaps, { namespace: ns })).toBe(a);
    expect(cache.informer(ConfigMaps, { namespace: ns, labelSelector: 'x=y' })).not.toBe(a);
    expect(cache.informer(ConfigMaps, { namespace: ns, metadataOnly: true })).not.toBe(a);
  });

  it("serves reads from the store, without managedFields and kubectl's last-applied copy, frozen", async () => {
    await client.create(ConfigMaps, {
      metadata: {
        name: 'one',
        namespace: ns,
        labels: { app: 'a' },
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"ConfigMap"}',
          kept: 'yes',
        },
      },
    });
    await client.create(ConfigMaps, {
      metadata: { name: 'two', namespace: ns, labels: { app: 'b' } },
    });
    const scope = { namespace: ns };
    await expect.poll(async () => (await cache.list(ConfigMaps, {}, scope)).length).toBe(2);
    const one = await cache.get(ConfigMaps, { namespace: ns, name: 'one' }, scope);
    expect(one.metadata?.managedFields).toBeUndefined();
    expect(one.metadata?.annotations).toEqual({ kept: 'yes' });
    expect(Object.isFrozen(one.metadata)).toBe(true);
    expect(
      (await cache.list(ConfigMaps, { labelSelector: 'app=b' }, scope)).map(
        (c) => c.metadata?.name,
      ),
    ).toEqual(['two']);
    await expect(
      cache.get(ConfigMaps, { namespace: ns, name: 'nope' }, scope),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('gives listed objects their apiVersion and kind, as watch events carry them', async () => {
    // The API server leaves them out of list items of built-in kinds; Events need them.
    await client.create(ConfigMaps, { metadata: { name: 'listed', namespace: ns } });
    const informer = cache.informer(ConfigMaps, { namespace: ns, labelSelector: '!listed-only' });
    await informer.waitForSync();
    expect(informer.store.get(`${ns}/listed`)).toMatchObject({
      apiVersion: 'v1',
      kind: 'ConfigMap',
    });
  });

  it('keeps what a transform leaves of each object, and refuses another transform for the same informer', async () => {
    await client.create(ConfigMaps, {
      metadata: { name: 'cut', namespace: ns, labels: { cut: 'yes' } },
      data: { big: 'x'.repeat(1000), small: 'y' },
    });
    const scope = { namespace: ns, labelSelector: 'cut=yes' };
    const keepSmall = (cm: ConfigMap): ConfigMap => ({
      ...cm,
      data: { small: cm.data?.small ?? '' },
    });
    const informer = cache.informer(ConfigMaps, scope, {}, { transform: keepSmall });
    await informer.waitForSync();
    expect(informer.store.get(`${ns}/cut`)?.data).toEqual({ small: 'y' });
    expect(informer.store.get(`${ns}/cut`)?.metadata?.managedFields).toBeUndefined();
    expect(cache.informer(ConfigMaps, scope, {}, { transform: keepSmall })).toBe(informer);
    expect(cache.informer(ConfigMaps, scope)).toBe(informer);
    expect(() => cache.informer(ConfigMaps, scope, {}, { transform: (cm) => cm })).toThrow(
      /exists with another transform/,
    );
  });

  it('finds children by owner through an index', async () => {
    const owner = await client.create(ConfigMaps, { metadata: { name: 'owner', namespace: ns } });
    const ref = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'owner',
      uid: owner.metadata!.uid!,
      controller: true,
    };
    await client.create(ConfigMaps, {
      metadata: { name: 'child', namespace: ns, ownerReferences: [ref] },
    });
    const informer = cache.informer(ConfigMaps, { namespace: ns }, { owner: byOwnerUid });
    await expect
      .poll(() =>
        informer.store.byIndex('owner', owner.metadata!.uid!).map((c) => c.metadata?.name),
      )
      .toEqual(['child']);
  });

  it('scopes informers by label and field selectors and applies a transform', async () => {
    for (const [name, tier] of [
      ['web-1', 'web'],
      ['web-2', 'web'],
      ['db-1', 'db'],
    ] as const) {
      await client.create(ConfigMaps, {
        metadata: { name, namespace: ns, labels: { tier } },
        data: { big: 'x'.repeat(100), keep: name },
      });
    }
    const web = cache.informer(ConfigMaps, { namespace: ns, labelSelector: 'tier=web' });
    const one = cache.informer(ConfigMaps, { namespace: ns, fieldSelector: 'metadata.name=db-1' });
    await expect.poll(() => web.store.keys().sort()).toEqual([`${ns}/web-1`, `${ns}/web-2`]);
    await expect.poll(() => one.store.keys()).toEqual([`${ns}/db-1`]);

    const slim = new Informer(client.transport, ConfigMaps, {
      namespace: ns,
      labelSelector: 'tier',
      transform: (cm) => ({ ...cm, data: { keep: cm.data?.keep ?? '' } }),
    });
    void slim.start(abort.signal);
    await slim.waitForSync();
    expect(slim.store.get(`${ns}/web-1`)?.data).toEqual({ keep: 'web-1' });
    await client.patch(
      ConfigMaps,
      { namespace: ns, name: 'web-1' },
      { type: 'merge', patch: { data: { keep: 'new' } } },
    );
    await expect.poll(() => slim.store.get(`${ns}/web-1`)?.data).toEqual({ keep: 'new' });
  });

  it('watches metadata only when asked, so Secret data never enters memory', async () => {
    await client.create(Secrets, {
      metadata: { name: 's', namespace: ns, labels: { managed: 'yes' } },
      stringData: { key: 'secret-value' },
    });
    const informer = cache.informer(Secrets, { namespace: ns, metadataOnly: true });
    await informer.waitForSync();
    await expect.poll(() => informer.store.get(`${ns}/s`)).toBeTruthy();
    const s = informer.store.get(`${ns}/s`)!;
    expect(s.kind).toBe('PartialObjectMetadata');
    expect(s.metadata?.labels).toEqual({ managed: 'yes' });
    expect(s).not.toHaveProperty('data');
    expect(JSON.stringify(s)).not.toContain(Buffer.from('secret-value').toString('base64'));
    // Watch events come as metadata too.
    await client.patch(
      Secrets,
      { namespace: ns, name: 's' },
      {
        type: 'merge',
        patch: { metadata: { labels: { managed: 'changed' } }, stringData: { key: 'other' } },
      },
    );
    await expect
      .poll(() => informer.store.get(`${ns}/s`)?.metadata?.labels?.managed)
      .toBe('changed');
    expect(informer.store.get(`${ns}/s`)).not.toHaveProperty('data');
  });

  it('syncs a metadata-only informer that selects nothing (the list has items: null)', async () => {
    const informer = cache.informer(Secrets, {
      namespace: ns,
      fieldSelector: 'metadata.name=absent',
      metadataOnly: true,
    });
    await informer.waitForSync(AbortSignal.timeout(5000));
    expect(informer.hasSynced).toBe(true);
    expect(informer.store.list()).toEqual([]);
  });
});
