import type { Logger } from 'pino';
import { groupKind, type ResourceType } from '../client/resource.js';
import type { Transport } from '../client/transport.js';
import { type KubeObject, objectKey } from '../client/types.js';
import { silentLogger } from '../log/logger.js';
import { Watcher, type WatcherOptions } from '../watch/watcher.js';
import {
  byNamespace,
  dropManagedFields,
  type IndexFunc,
  Store,
  shareCommonStrings,
} from './store.js';

/** Callbacks for store changes. `onUpdate` gets the previous and the current object. */
export interface EventHandler<T> {
  onAdd?(obj: T): void;
  onUpdate?(old: T, current: T): void;
  onDelete?(obj: T): void;
}

export interface InformerOptions<T> extends Omit<WatcherOptions<T>, 'logger'> {
  indexers?: Record<string, IndexFunc<T>>;
  logger?: Logger;
}

/**
 * A watcher feeding a store, and handlers told of every change. A relist swaps the store
 * content atomically and tells handlers only what differs. Adding a handler after the
 * first list replays the current objects to it as adds.
 */
export class Informer<T extends KubeObject> {
  readonly store: Store<T>;
  private readonly handlers = new Set<EventHandler<T>>();
  private readonly watcher: Watcher<T>;
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private running: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    transport: Transport,
    readonly resource: ResourceType<T>,
    opts: InformerOptions<T> = {},
  ) {
    this.log = (opts.logger ?? silentLogger).child({ informer: groupKind(resource) });
    this.store = new Store<T>({ namespace: byNamespace, ...opts.indexers });
    const userTransform = opts.transform;
    const compact = (obj: T) => shareCommonStrings(dropManagedFields(obj));
    this.watcher = new Watcher(transport, resource, {
      ...opts,
      logger: this.log,
      transform: userTransform ? (obj) => userTransform(compact(obj)) : compact,
    });
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete list is in the store (or when `signal` aborts). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  addHandler(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    if (this.synced) for (const obj of this.store.list()) handler.onAdd?.(obj);
    return () => this.handlers.delete(handler);
  }

  /** Starts once; later calls return the same run. Runs until `signal` aborts. */
  start(signal: AbortSignal): Promise<void> {
    this.running ??= this.run(signal);
    return this.running;
  }

  private async run(signal: AbortSignal): Promise<void> {
    for await (const ev of this.watcher.events(signal)) {
      switch (ev.type) {
        case 'relist': {
          const diff = this.store.replace(ev.objects);
          this.log.debug(
            {
              objects: this.store.size,
              added: diff.added.length,
              updated: diff.updated.length,
              deleted: diff.deleted.length,
            },
            'listed',
          );
          for (const obj of diff.added) this.emit('onAdd', obj);
          for (const { old, current } of diff.updated) this.emitUpdate(old, current);
          for (const obj of diff.deleted) this.emit('onDelete', obj);
          if (!this.synced) {
            this.synced = true;
            for (const resolve of this.syncWaiters.splice(0)) resolve();
          }
          break;
        }
        case 'applied': {
          const old = this.store.upsert(ev.object);
          if (old) this.emitUpdate(old, ev.object);
          else this.emit('onAdd', ev.object);
          break;
        }
        case 'deleted': {
          const old = this.store.remove(objectKey(ev.object));
          this.emit('onDelete', old ?? ev.object);
          break;
        }
      }
    }
  }

  private emit(kind: 'onAdd' | 'onDelete', obj: T): void {
    for (const h of this.handlers) {
      try {
        h[kind]?.(obj);
      } catch (err) {
        this.log.error({ err, key: objectKey(obj) }, `event handler ${kind} failed`);
      }
    }
  }

  private emitUpdate(old: T, current: T): void {
    for (const h of this.handlers) {
      try {
        h.onUpdate?.(old, current);
      } catch (err) {
        this.log.error({ err, key: objectKey(current) }, 'event handler onUpdate failed');
      }
    }
  }
}
