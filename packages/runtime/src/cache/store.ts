import { type KubeObject, objectKey } from '../client/types.js';

/** Maps an object to the index values it is found under (e.g. its namespace). */
export type IndexFunc<T> = (obj: T) => string[];

/** The store's contents changed by a relist: only real differences. */
export interface ReplaceResult<T> {
  added: T[];
  updated: Array<{ old: T; current: T }>;
  deleted: T[];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Indexed: the operators run without V8's optimizing compilers (--lite-mode), where
    // each step of a for-of allocates an iterator result, here for every field of every
    // object the cache takes in.
    const values = Object.values(value);
    for (let i = 0; i < values.length; i++) deepFreeze(values[i]);
  }
  return value;
}

/**
 * Objects of one kind by `namespace/name`, with secondary indexes. Objects are frozen on
 * the way in: every reader shares one copy and none can change it under the others.
 * Readers use get/list/byIndex; only the owning informer writes.
 */
export class Store<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  // index name -> index value -> keys; one key is held as itself, since most values (a DNS
  // name, an owner uid) index one object and a Set each would be most of the index's size.
  private readonly indices = new Map<string, Map<string, string | Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    for (const [name, fn] of Object.entries(indexers)) this.addIndex(name, fn);
  }

  get size(): number {
    return this.objects.size;
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  /** Objects whose index `name` yields `value`. */
  byIndex(name: string, value: string): T[] {
    const index = this.indices.get(name);
    if (!index) throw new Error(`store has no index named "${name}"`);
    const out: T[] = [];
    for (const key of keysOf(index.get(value))) {
      const obj = this.objects.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** Keys of objects whose index `name` yields `value`. */
  keysByIndex(name: string, value: string): string[] {
    return [...keysOf(this.indices.get(name)?.get(value))];
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  /** Adds an index, computed over the objects already stored too. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`store already has an index named "${name}"`);
    this.indexers.set(name, fn);
    this.indices.set(name, new Map());
    for (const [key, obj] of this.objects) this.indexOne(name, fn, key, obj);
  }

  /** Inserts or replaces; returns the previous object. */
  upsert(obj: T): T | undefined {
    const key = objectKey(obj);
    const old = this.objects.get(key);
    if (old) this.unindex(key, old);
    deepFreeze(obj);
    this.objects.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexOne(name, fn, key, obj);
    return old;
  }

  /** Removes by key; returns what was there. */
  remove(key: string): T | undefined {
    const old = this.objects.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.objects.delete(key);
    return old;
  }

  /**
   * Swaps the content for a complete new set (a relist) and reports only what really
   * changed: objects with the same resourceVersion count as unchanged.
   */
  replace(objects: T[]): ReplaceResult<T> {
    const result: ReplaceResult<T> = { added: [], updated: [], deleted: [] };
    const seen = new Set<string>();
    for (const obj of objects) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.objects.get(key);
      if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) continue;
      this.upsert(obj);
      if (old) result.updated.push({ old, current: obj });
      else result.added.push(obj);
    }
    for (const key of [...this.objects.keys()]) {
      if (!seen.has(key)) result.deleted.push(this.remove(key)!);
    }
    return result;
  }

  private indexOne(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    const index = this.indices.get(name)!;
    for (const value of fn(obj)) {
      const keys = index.get(value);
      if (keys === undefined || keys === key) index.set(value, key);
      else if (typeof keys === 'string') index.set(value, new Set([keys, key]));
      else keys.add(key);
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.indexers) {
      const index = this.indices.get(name)!;
      for (const value of fn(obj)) {
        const keys = index.get(value);
        if (keys === key) index.delete(value);
        else if (typeof keys === 'object') {
          keys.delete(key);
          if (keys.size === 1) index.set(value, keys.values().next().value!);
        }
      }
    }
  }
}

function keysOf(entry: string | Set<string> | undefined): Iterable<string> {
  return entry === undefined ? [] : typeof entry === 'string' ? [entry] : entry;
}

/** Index by namespace (cluster-scoped objects under ""). */
export const byNamespace: IndexFunc<KubeObject> = (obj) => [obj.metadata?.namespace ?? ''];

/** Index by the uid of every owner. */
export const byOwnerUid: IndexFunc<KubeObject> = (obj) =>
  (obj.metadata?.ownerReferences ?? []).map((ref) => ref.uid);

/** kubectl's copy of the last applied manifest: read by kubectl alone. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drops what controllers never read and what is often the largest part of an object:
 * managedFields, and kubectl's last-applied annotation (a second copy of the object for
 * everything created with `kubectl apply`).
 */
export function dropManagedFields<T extends KubeObject>(obj: T): T {
  const metadata = obj.metadata;
  const lastApplied = metadata?.annotations?.[LAST_APPLIED_ANNOTATION] !== undefined;
  if (metadata && (metadata.managedFields || lastApplied)) {
    // Rebuilt rather than `delete`d: deleting a property turns a V8 object into a hash
    // table several times its size, which for 10000 objects is megabytes.
    const { managedFields: _, ...rest } = metadata;
    if (lastApplied) {
      const { [LAST_APPLIED_ANNOTATION]: __, ...annotations } = metadata.annotations!;
      rest.annotations = annotations;
    }
    obj.metadata = rest;
  }
  return obj;
}

// One copy of each string many cached objects repeat: JSON.parse makes a new one per object
// (apiVersion, kind, namespace and finalizers are 100-150 bytes of every object, and the
// type, status, reason and message of a condition as much again). Bounded, so namespaces
// and messages that come and go cannot grow it for ever.
const shared = new Map<string, string>();
const SHARED_LIMIT = 4096;

function share(value: string): string {
  const known = shared.get(value);
  if (known !== undefined) return known;
  if (shared.size >= SHARED_LIMIT) shared.clear();
  shared.set(value, value);
  return value;
}

/** Replaces the strings objects of a kind have in common with one shared copy of each. */
export function shareCommonStrings<T extends KubeObject>(obj: T): T {
  if (obj.apiVersion !== undefined) obj.apiVersion = share(obj.apiVersion);
  if (obj.kind !== undefined) obj.kind = share(obj.kind);
  const metadata = obj.metadata;
  if (metadata?.namespace !== undefined) metadata.namespace = share(metadata.namespace);
  if (metadata?.finalizers) metadata.finalizers = metadata.finalizers.map(share);
  const conditions = (obj as { status?: { conditions?: unknown } }).status?.conditions;
  if (Array.isArray(conditions))
    for (let i = 0; i < conditions.length; i++) shareConditionStrings(conditions[i]);
  return obj;
}

/** The strings of a status condition (metav1.Condition) that objects of a kind repeat. */
function shareConditionStrings(condition: unknown): void {
  if (typeof condition !== 'object' || condition === null) return;
  const c = condition as Record<string, unknown>;
  for (let i = 0; i < CONDITION_STRINGS.length; i++) {
    const field = CONDITION_STRINGS[i]!;
    const value = c[field];
    if (typeof value === 'string') c[field] = share(value);
  }
}

const CONDITION_STRINGS = ['type', 'status', 'reason', 'message'] as const;
