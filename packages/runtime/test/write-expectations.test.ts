import { describe, expect, it } from 'vitest';
import type { EventHandler } from '../src/cache/informer.js';
import { WriteExpectations } from '../src/cache/write-expectations.js';
import type { ConfigMap } from '../src/client/types.js';

/** A cache whose watch events the test delivers by hand. */
function fakeCache() {
  const objects = new Map<string, ConfigMap>();
  const handlers: EventHandler<ConfigMap>[] = [];
  return {
    store: { get: (key: string) => objects.get(key) },
    addHandler(h: EventHandler<ConfigMap>) {
      handlers.push(h);
      return () => undefined;
    },
    event(obj: ConfigMap) {
      const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
      const old = objects.get(key);
      objects.set(key, obj);
      for (const h of handlers) old ? h.onUpdate?.(old, obj) : h.onAdd?.(obj);
    },
    deleted(obj: ConfigMap) {
      objects.delete(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
      for (const h of handlers) h.onDelete?.(obj);
    },
  };
}

const cm = (resourceVersion: string): ConfigMap => ({
  metadata: { namespace: 'ns', name: 'a', resourceVersion },
});
const key = { namespace: 'ns', name: 'a' };

describe('WriteExpectations', () => {
  it('holds an object back until the cache shows the version our write returned', () => {
    const cache = fakeCache();
    const writes = new WriteExpectations(cache);
    cache.event(cm('1'));
    writes.wrote(cm('3'));
    expect(writes.pending(key)).toBe(true);
    // Someone else's earlier write arrives first: still behind ours.
    cache.event(cm('2'));
    expect(writes.pending('ns/a')).toBe(true);
    cache.event(cm('3'));
    expect(writes.pending(key)).toBe(false);
    expect(writes.pending({ namespace: 'ns', name: 'other' })).toBe(false);
  });

  it('expects nothing when the watch delivered the write before its answer came back', () => {
    const cache = fakeCache();
    const writes = new WriteExpectations(cache);
    cache.event(cm('5'));
    writes.wrote(cm('5'));
    expect(writes.pending(key)).toBe(false);
  });

  it('trusts the cache again after the timeout (a relist may skip the version)', () => {
    const cache = fakeCache();
    let now = 1000;
    const writes = new WriteExpectations(cache, { timeoutMs: 100, now: () => now });
    writes.wrote(cm('7'));
    now += 99;
    expect(writes.pending(key)).toBe(true);
    now += 1;
    expect(writes.pending(key)).toBe(false);
  });

  it('forgets a deleted object', () => {
    const cache = fakeCache();
    const writes = new WriteExpectations(cache);
    cache.event(cm('1'));
    writes.wrote(cm('2'));
    cache.deleted(cm('1'));
    expect(writes.pending(key)).toBe(false);
  });
});
