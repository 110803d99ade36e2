import { sharedCluster } from '@chousei/testenv/vitest';
import { beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/client/client.js';
import { NotFoundError } from '../src/client/errors.js';
import { ConfigMaps } from '../src/client/resource.js';
import type { ConfigMap } from '../src/client/types.js';
import {
  addFinalizer,
  finalize,
  hasFinalizer,
  removeFinalizer,
} from '../src/helpers/finalizers.js';

const FIN = 'test.chousei.dev/cleanup';

describe('finalizers', () => {
  let client: Client;
  let other: Client;
  let ns: string;
  let seq = 0;

  const create = (finalizers?: string[]) =>
    client.create(ConfigMaps, {
      metadata: { name: `cm-${++seq}`, namespace: ns, ...(finalizers && { finalizers }) },
      data: { k: 'v' },
    });
  const live = (cm: ConfigMap) =>
    client.get(ConfigMaps, { namespace: ns, name: cm.metadata?.name ?? '' });

  beforeAll(async () => {
    const cluster = await sharedCluster();
    client = new Client(cluster.kubeConfig);
    other = new Client(cluster.kubeConfig);
    ns = await cluster.createNamespace('finalizers');
  });

  it('adds and removes, as no-ops when already in that state', async () => {
    const cm = await create();
    expect(hasFinalizer(cm, FIN)).toBe(false);

    const added = await addFinalizer(client, ConfigMaps, cm, FIN);
    expect(hasFinalizer(added, FIN)).toBe(true);
    expect((await live(cm)).metadata?.finalizers).toEqual([FIN]);

    const again = await addFinalizer(client, ConfigMaps, added, FIN);
    expect((await live(cm)).metadata?.resourceVersion).toBe(added.metadata?.resourceVersion);
    expect(again.metadata?.finalizers).toEqual([FIN]);

    const removed = await removeFinalizer(client, ConfigMaps, again, FIN);
    expect(hasFinalizer(removed, FIN)).toBe(false);
    const stored = await live(cm);
    expect(stored.metadata?.finalizers ?? []).toEqual([]);
    await removeFinalizer(client, ConfigMaps, removed, FIN);
    expect((await live(cm)).metadata?.resourceVersion).toBe(stored.metadata?.resourceVersion);
  });

  it('does not clobber a finalizer another writer added after our read', async () => {
    const cm = await create(['test.chousei.dev/first']);
    // Another writer changes the list after we read `cm`: our view is stale.
    await addFinalizer(other, ConfigMaps, cm, 'test.chousei.dev/theirs');
    await addFinalizer(client, ConfigMaps, cm, FIN);
    expect((await live(cm)).metadata?.finalizers).toEqual([
      'test.chousei.dev/first',
      'test.chousei.dev/theirs',
      FIN,
    ]);

    // Removing from a stale view keeps what the other writer added meanwhile.
    const stale = await live(cm);
    await addFinalizer(other, ConfigMaps, stale, 'test.chousei.dev/late');
    await removeFinalizer(client, ConfigMaps, stale, 'test.chousei.dev/first');
    expect((await live(cm)).metadata?.finalizers).toEqual([
      'test.chousei.dev/theirs',
      FIN,
      'test.chousei.dev/late',
    ]);
  });

  it('lands concurrent adds from two writers (no lost update)', async () => {
    for (let round = 0; round < 5; round++) {
      const cm = await create();
      await Promise.all([
        addFinalizer(client, ConfigMaps, cm, 'test.chousei.dev/a'),
        addFinalizer(other, ConfigMaps, cm, 'test.chousei.dev/b'),
      ]);
      expect([...((await live(cm)).metadata?.finalizers ?? [])].sort()).toEqual([
        'test.chousei.dev/a',
        'test.chousei.dev/b',
      ]);
    }
  });

  it('lands many concurrent adds and removes on one object', async () => {
    const names = Array.from({ length: 4 }, (_, i) => `test.chousei.dev/w${i}`);
    const cm = await create(['test.chousei.dev/gone1', 'test.chousei.dev/gone2']);
    await Promise.all([
      ...names.map((n, i) => addFinalizer(i % 2 ? client : other, ConfigMaps, cm, n)),
      removeFinalizer(client, ConfigMaps, cm, 'test.chousei.dev/gone1'),
      removeFinalizer(other, ConfigMaps, cm, 'test.chousei.dev/gone2'),
    ]);
    expect([...((await live(cm)).metadata?.finalizers ?? [])].sort()).toEqual(names);
  });

  it('finalize: adds the finalizer before apply, then blocks deletion until cleanup ran', async () => {
    const cm = await create();
    const applied = await finalize(client, ConfigMaps, cm, FIN, {
      apply: async (obj) => {
        // The finalizer is stored before apply runs, so nothing apply does is unguarded.
        expect((await live(obj)).metadata?.finalizers).toContain(FIN);
        return 'applied';
      },
      cleanup: () => 'unexpected',
    });
    expect(applied).toBe('applied');

    await client.delete(ConfigMaps, { namespace: ns, name: cm.metadata?.name ?? '' });
    const deleting = await live(cm);
    expect(deleting.metadata?.deletionTimestamp).toBeTruthy();
    expect(deleting.metadata?.finalizers).toEqual([FIN]);

    const result = await finalize(client, ConfigMaps, deleting, FIN, {
      apply: () => 'unexpected',
      cleanup: async (obj) => {
        // Still there while cleanup runs: the finalizer holds the deletion.
        const during = await live(obj);
        expect(during.metadata?.deletionTimestamp).toBeTruthy();
        expect(during.metadata?.finalizers).toEqual([FIN]);
        return 'cleaned';
      },
    });
    expect(result).toBe('cleaned');
    await expect(live(cm)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('finalize: a throwing cleanup keeps the finalizer and the object', async () => {
    const cm = await addFinalizer(client, ConfigMaps, await create(), FIN);
    await client.delete(ConfigMaps, { namespace: ns, name: cm.metadata?.name ?? '' });
    const deleting = await live(cm);

    await expect(
      finalize(client, ConfigMaps, deleting, FIN, {
        apply: () => undefined,
        cleanup: () => {
          throw new Error('cloud API down');
        },
      }),
    ).rejects.toThrow('cloud API down');
    const still = await live(cm);
    expect(still.metadata?.deletionTimestamp).toBeTruthy();
    expect(still.metadata?.finalizers).toEqual([FIN]);

    // The retry succeeds, even from the stale object, and the deletion completes.
    await finalize(client, ConfigMaps, deleting, FIN, {
      apply: () => undefined,
      cleanup: () => undefined,
    });
    await expect(live(cm)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('finalize: leaves an object being deleted without our finalizer alone', async () => {
    const cm = await create(['test.chousei.dev/someone-else']);
    await client.delete(ConfigMaps, { namespace: ns, name: cm.metadata?.name ?? '' });
    const deleting = await live(cm);
    let ran = false;
    const result = await finalize(client, ConfigMaps, deleting, FIN, {
      apply: () => {
        ran = true;
      },
      cleanup: () => {
        ran = true;
      },
    });
    expect(result).toBeUndefined();
    expect(ran).toBe(false);
    const after = await live(cm);
    expect(after.metadata?.finalizers).toEqual(['test.chousei.dev/someone-else']);
    expect(after.metadata?.resourceVersion).toBe(deleting.metadata?.resourceVersion);
    await removeFinalizer(client, ConfigMaps, after, 'test.chousei.dev/someone-else');
    await expect(live(cm)).rejects.toBeInstanceOf(NotFoundError);
  });
});
