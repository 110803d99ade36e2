import { describe, expect, it } from 'vitest';
import { byOwnerUid, Store } from '../src/cache/store.js';
import type { KubeObject } from '../src/client/types.js';

const obj = (
  name: string,
  rv: string,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject => ({
  metadata: { namespace: 'ns', name, resourceVersion: rv, ...extra },
});

describe('store', () => {
  it('indexes by namespace and custom functions, keeping indexes right on update and delete', () => {
    const store = new Store<KubeObject>({ owner: byOwnerUid });
    const owned = (name: string, rv: string, uid: string) =>
      obj(name, rv, { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'o', uid }] });
    store.upsert(owned('a', '1', 'u1'));
    store.upsert(owned('b', '1', 'u1'));
    expect(store.byIndex('owner', 'u1').map((o) => o.metadata?.name)).toEqual(['a', 'b']);
    store.upsert(owned('b', '2', 'u2'));
    expect(store.byIndex('owner', 'u1').map((o) => o.metadata?.name)).toEqual(['a']);
    expect(store.byIndex('owner', 'u2').map((o) => o.metadata?.name)).toEqual(['b']);
    store.remove('ns/a');
    expect(store.byIndex('owner', 'u1')).toEqual([]);
    store.addIndex('name', (o) => [o.metadata?.name ?? '']);
    expect(store.keysByIndex('name', 'b')).toEqual(['ns/b']);
    expect(() => store.byIndex('nope', 'x')).toThrow(/no index named "nope"/);
  });

  it('keeps an index right when one object yields a value twice and others join and leave it', () => {
    const store = new Store<KubeObject>({
      host: (o) => [o.metadata?.labels?.host ?? '', o.metadata?.labels?.host ?? ''],
    });
    const names = () => store.byIndex('host', 'h').map((o) => o.metadata?.name);
    store.upsert(obj('a', '1', { labels: { host: 'h' } }));
    expect(names()).toEqual(['a']);
    store.upsert(obj('b', '1', { labels: { host: 'h' } }));
    store.upsert(obj('c', '1', { labels: { host: 'h' } }));
    expect(names()).toEqual(['a', 'b', 'c']);
    store.remove('ns/a');
    store.remove('ns/b');
    expect(names()).toEqual(['c']);
    store.upsert(obj('a', '2', { labels: { host: 'h' } }));
    expect(names()).toEqual(['c', 'a']);
    store.remove('ns/c');
    store.remove('ns/a');
    expect(store.keysByIndex('host', 'h')).toEqual([]);
  });

  it('hands out frozen objects', () => {
    const store = new Store<KubeObject>();
    store.upsert(obj('a', '1', { labels: { x: '1' } }));
    const got = store.get('ns/a')!;
    expect(() => {
      got.metadata!.labels!.x = '2';
    }).toThrow(TypeError);
  });

  it('replaces its content on relist and reports only real differences', () => {
    const store = new Store<KubeObject>();
    store.upsert(obj('same', '1'));
    store.upsert(obj('changed', '1'));
    store.upsert(obj('gone', '1'));
    const diff = store.replace([obj('same', '1'), obj('changed', '2'), obj('new', '1')]);
    expect(diff.added.map((o) => o.metadata?.name)).toEqual(['new']);
    expect(
      diff.updated.map((u) => [
        u.old.metadata?.resourceVersion,
        u.current.metadata?.resourceVersion,
      ]),
    ).toEqual([['1', '2']]);
    expect(diff.deleted.map((o) => o.metadata?.name)).toEqual(['gone']);
    expect(store.keys().sort()).toEqual(['ns/changed', 'ns/new', 'ns/same']);
  });
});
