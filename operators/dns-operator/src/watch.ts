// The sources and claims-index stages of setupDnsOperator: one informer per source kind and
// the index of which objects claim which names.
import { type Cache, type Informer, type KubeObject, objectKey } from '@chousei/runtime';
import { ClaimIndex } from './controller/claim-index.js';
import type { Claimant } from './controller/claims.js';
import { GatewayCache, type GatewayChange } from './controller/gateways.js';
import {
  isGatewayRouteSource,
  PARENTS_INDEX,
  type SourceDef,
  type SourceKind,
  type Sources,
  sourcesFor,
} from './definitions.js';
import type { DnsOperatorOptions } from './options.js';

/**
 * The source objects as watched (one informer per source kind, and the Gateways route names
 * depend on) and the index of the names they claim, kept up to date by the names
 * controller's watches: the sources and claims-index stages of the operator.
 */
export class SourceWatch {
  readonly sources: Sources;
  readonly gateways: GatewayCache | undefined;
  /** The list scope of every source informer: the namespace and label filters. */
  readonly scope: { namespace?: string; labelSelector?: string };
  private readonly informers = new Map<SourceKind, Informer<KubeObject>>();
  private readonly defsByKind = new Map<string, SourceDef>();
  /** Who claims which names. */
  private readonly index = new ClaimIndex();

  constructor(cache: Cache, opts: DnsOperatorOptions) {
    // Route names depend on Gateways too: their cache comes first, so routes resolve against it.
    this.gateways = opts.sources.some(isGatewayRouteSource)
      ? new GatewayCache(cache, {
          ...(opts.namespace ? { namespace: opts.namespace } : {}),
          listenerSets: opts.gatewayListenerSets ?? false,
        })
      : undefined;
    this.sources = sourcesFor(opts, this.gateways);
    this.scope = {
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.labelFilter ? { labelSelector: opts.labelFilter } : {}),
    };
    for (const def of this.sources.defs) {
      this.defsByKind.set(def.kind, def);
      const settings = def.transform ? { transform: def.transform } : {};
      this.informers.set(
        def.kind,
        cache.informer(def.resource, this.scope, def.indexers ?? {}, settings),
      );
    }
  }

  get defs(): SourceDef[] {
    return this.sources.defs;
  }

  informer(def: SourceDef): Informer<KubeObject> {
    return this.informers.get(def.kind)!;
  }

  /** The objects claiming `name`, not being deleted. */
  claimants(name: string): Claimant[] {
    const out: Claimant[] = [];
    for (const ref of this.index.holders(name)) {
      const slash = ref.indexOf('/');
      const def = this.defsByKind.get(ref.slice(0, slash))!;
      const obj = this.informer(def).store.get(ref.slice(slash + 1));
      if (!obj || obj.metadata?.deletionTimestamp) continue;
      out.push(this.sources.claimant(def, obj));
    }
    return out;
  }

  /** Records what the object claims now; returns the names it claimed before or claims now. */
  reindex(def: SourceDef, obj: KubeObject): string[] {
    const key = objectKey(obj);
    const stored = this.informer(def).store.get(key);
    return this.index.set(`${def.kind}/${key}`, stored ? this.sources.claims(def, stored) : []);
  }

  /**
   * After a Gateway, ListenerSet or namespace change: the names of the routes it may change,
   * made anew (their results were made against the old one) and indexed again.
   */
  reindexRoutes(change: GatewayChange): string[] {
    return this.defs
      .filter((d) => isGatewayRouteSource(d.kind))
      .flatMap((def) =>
        this.routesTouched(def, change).flatMap((obj) => {
          this.sources.forget(obj);
          return this.reindex(def, obj);
        }),
      );
  }

  /** The routes of `def` whose names a Gateway, ListenerSet or namespace change may change. */
  routesTouched(def: SourceDef, change: GatewayChange): KubeObject[] {
    const store = this.informer(def).store;
    const found = new Set(change.parents.flatMap((p) => store.byIndex(PARENTS_INDEX, p)));
    if (change.namespace)
      for (const o of store.byIndex('namespace', change.namespace)) found.add(o);
    return [...found];
  }

  /** Names currently claimed by the watched objects. */
  claimedNames(): Set<string> {
    return new Set(this.index.names());
  }

  /** Names claimed by the objects of one namespace. */
  claimedIn(namespace: string): string[] {
    const claimed = new Set<string>();
    for (const def of this.defs)
      for (const obj of this.informer(def).store.byIndex('namespace', namespace))
        for (const n of this.sources.claims(def, obj)) claimed.add(n);
    return [...claimed];
  }
}
