import { type KubeObject, type ObjectKey, objectKey } from '../client/types.js';
import type { EventHandler } from './informer.js';

/** What WriteExpectations needs of an informer: its store and its events. */
export interface ObservedCache<T> {
  readonly store: { get(key: string): T | undefined };
  addHandler(handler: EventHandler<T>): () => void;
}

export interface WriteExpectationsOptions {
  /**
   * How long to wait for a written version to show in the cache. A relist may skip it
   * (replaced by a newer one before the watch caught up); after this, the cache is trusted
   * again. Default 30 s.
   */
  timeoutMs?: number;
  /** Told the key of an object once the cache shows the version written: look at it again. */
  onObserved?: (key: string) => void;
  /** For tests. */
  now?: () => number;
}

/**
 * The versions a controller wrote, per object, until its cache shows them: what
 * kube-controller-manager calls expectations. A reconcile queued by the controller's own
 * write can read the cache before the watch delivers that write, and act on a view that
 * misses it (redo an issuance, overwrite a status). Watch events come in order, so once
 * the cache shows the resourceVersion a write returned, the view is at least that new.
 * Only equality is compared: resourceVersions are opaque.
 */
export class WriteExpectations<T extends KubeObject> {
  private readonly unseen = new Map<string, { resourceVersion: string; at: number }>();
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly onObserved: ((key: string) => void) | undefined;

  constructor(
    private readonly cache: ObservedCache<T>,
    opts: WriteExpectationsOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.onObserved = opts.onObserved;
    cache.addHandler({
      onAdd: (obj) => this.observed(obj),
      onUpdate: (_, obj) => this.observed(obj),
      onDelete: (obj) => this.unseen.delete(objectKey(obj)),
    });
  }

  /** Records the object a write (update, patch, status write) returned. */
  wrote(obj: T): void {
    const key = objectKey(obj);
    const resourceVersion = obj.metadata?.resourceVersion;
    if (!resourceVersion) return;
    // The watch may have delivered it before the write's answer came back.
    if (this.cache.store.get(key)?.metadata?.resourceVersion === resourceVersion) return;
    this.unseen.set(key, { resourceVersion, at: this.now() });
  }

  /**
   * Whether the cached view of the object may still miss a write of ours: reconcile it
   * again when its watch event comes (or after the timeout), not from this view.
   */
  pending(key: KubeObject | ObjectKey | string): boolean {
    const k = typeof key === 'string' ? key : objectKey(key);
    const mine = this.unseen.get(k);
    if (!mine) return false;
    if (this.now() - mine.at < this.timeoutMs) return true;
    this.unseen.delete(k);
    return false;
  }

  /** Whether `obj` is, as the cache is about to show it, a version one of our writes returned. */
  awaits(obj: T): boolean {
    const version = obj.metadata?.resourceVersion;
    return version !== undefined && this.unseen.get(objectKey(obj))?.resourceVersion === version;
  }

  private observed(obj: T): void {
    const key = objectKey(obj);
    if (this.unseen.get(key)?.resourceVersion !== obj.metadata?.resourceVersion) return;
    this.unseen.delete(key);
    this.onObserved?.(key);
  }
}
