import type { Logger } from 'pino';
import type { ListOptions, Reader } from '../client/client.js';
import { NotFoundError } from '../client/errors.js';
import { groupKind, type ResourceType, resourcePath } from '../client/resource.js';
import type { Transport } from '../client/transport.js';
import { type KubeObject, type ObjectKey, objectKey } from '../client/types.js';
import { silentLogger } from '../log/logger.js';
import type { WatchScope } from '../watch/watcher.js';
import { Informer, type InformerOptions } from './informer.js';
import type { IndexFunc } from './store.js';

/** Which objects of a kind an informer holds: its key in the cache. */
export interface InformerScope extends WatchScope {}

/** How an informer of the cache keeps its objects. */
export interface InformerSettings<T> {
  /**
   * Applied to every object as it arrives, after managedFields are dropped: keep only what
   * the readers of this informer use. Fixed by the first caller: asking for the same kind
   * and scope with another transform throws, as the readers would see objects cut for
   * someone else.
   */
  transform?: (obj: T) => T;
}

export interface CacheListOptions extends ListOptions {
  /** List through a named index of the store instead of scanning. */
  index?: { name: string; value: string };
}

function scopeKey(rt: ResourceType, scope: InformerScope): string {
  return [
    rt.apiVersion,
    rt.kind,
    scope.namespace ?? '',
    scope.labelSelector ?? '',
    scope.fieldSelector ?? '',
    scope.metadataOnly ? 'meta' : 'full',
  ].join('|');
}

/**
 * Shared informers, one per kind + scope + selector, for every controller in the process,
 * and a Reader over their stores. Informers registered after `start` start at once.
 */
export class Cache implements Reader {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly transforms = new Map<string, unknown>();
  private signal: AbortSignal | undefined;
  private readonly log: Logger;

  constructor(
    private readonly transport: Transport,
    private readonly defaults: Omit<InformerOptions<KubeObject>, keyof InformerScope> & {
      logger?: Logger;
    } = {},
  ) {
    this.log = defaults.logger ?? silentLogger;
  }

  /** The shared informer for this kind and scope, created on first use. */
  informer<T extends KubeObject>(
    rt: ResourceType<T>,
    scope: InformerScope = {},
    indexers: Record<string, IndexFunc<T>> = {},
    settings: InformerSettings<T> = {},
  ): Informer<T> {
    const key = scopeKey(rt, scope);
    let informer = this.informers.get(key) as Informer<T> | undefined;
    if (informer && settings.transform && this.transforms.get(key) !== settings.transform) {
      throw new Error(
        `informer ${groupKind(rt)} (${key}) exists with another transform: its objects are cut for another reader`,
      );
    }
    if (!informer) {
      informer = new Informer<T>(this.transport, rt, {
        ...(this.defaults as InformerOptions<T>),
        ...scope,
        ...(settings.transform ? { transform: settings.transform } : {}),
        logger: this.log,
      });
      this.informers.set(key, informer as unknown as Informer<KubeObject>);
      this.transforms.set(key, settings.transform);
      if (this.signal) void informer.start(this.signal);
    }
    for (const [name, fn] of Object.entries(indexers)) {
      if (!informer.store.hasIndex(name)) informer.store.addIndex(name, fn);
    }
    return informer;
  }

  /** Starts every informer, now and as they are added, until `signal` aborts. */
  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const informer of this.informers.values()) void informer.start(signal);
  }

  get started(): boolean {
    return !!this.signal;
  }

  /** Resolves once every informer registered so far has listed. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  get synced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced);
  }

  private async syncedInformer<T extends KubeObject>(rt: ResourceType<T>, scope: InformerScope) {
    const informer = this.informer(rt, scope);
    if (!informer.hasSynced) {
      if (!this.signal) throw new Error(`cache not started: cannot read ${rt.kind}`);
      await informer.waitForSync(this.signal);
    }
    return informer;
  }

  /** An object from the cache (the informer for the kind is started on first use). */
  async get<T extends KubeObject>(
    rt: ResourceType<T>,
    key: ObjectKey,
    scope: InformerScope = {},
  ): Promise<T> {
    const informer = await this.syncedInformer(rt, scope);
    const obj = informer.store.get(objectKey(key));
    if (!obj) {
      throw new NotFoundError('GET (cache)', resourcePath(rt, key), { reason: 'NotFound' }, 404);
    }
    return obj;
  }

  /** Objects from the cache, by namespace, label selector (equality terms) or index. */
  async list<T extends KubeObject>(
    rt: ResourceType<T>,
    opts: CacheListOptions = {},
    scope: InformerScope = {},
  ): Promise<T[]> {
    const informer = await this.syncedInformer(rt, scope);
    let items: T[];
    if (opts.index) items = informer.store.byIndex(opts.index.name, opts.index.value);
    else if (opts.namespace) items = informer.store.byIndex('namespace', opts.namespace);
    else items = informer.store.list();
    if (opts.namespace && opts.index)
      items = items.filter((o) => o.metadata?.namespace === opts.namespace);
    if (opts.labelSelector) items = items.filter(matchesLabels(opts.labelSelector));
    return items;
  }
}

/** Equality-based selector terms (`a=b,c!=d,e`, `!f`) as a predicate. */
export function matchesLabels(selector: string): (obj: KubeObject) => boolean {
  const terms = selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((term) => {
      const neq = term.split('!=');
      if (neq.length === 2)
        return (l: Record<string, string>) => l[neq[0]!.trim()] !== neq[1]!.trim();
      const eq = term.split(/==?/);
      if (eq.length === 2) return (l: Record<string, string>) => l[eq[0]!.trim()] === eq[1]!.trim();
      if (term.startsWith('!')) return (l: Record<string, string>) => !(term.slice(1) in l);
      return (l: Record<string, string>) => term in l;
    });
  return (obj) => {
    const labels = obj.metadata?.labels ?? {};
    return terms.every((t) => t(labels));
  };
}
