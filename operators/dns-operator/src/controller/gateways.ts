import {
  type Cache,
  type ControllerBuilder,
  type Gateway,
  Gateways,
  type Informer,
  type KubeObject,
  type ListenerSet,
  ListenerSets,
  labelsChanged,
  type Namespace,
  Namespaces,
  type Predicate,
} from '@chousei/runtime';
import {
  type GatewayLookup,
  listenerSetGatewayKey,
  parentKey,
  slimGateway,
  slimListenerSet,
} from '../sources/gateway.js';

export interface GatewayCacheOptions {
  /** Watch one namespace only (its Gateways and ListenerSets); namespaces are then not read. */
  namespace?: string;
  /** Read ListenerSets (--gateway-listener-sets): their listeners count as their Gateway's. */
  listenerSets: boolean;
}

/** What a change to a Gateway, ListenerSet or namespace may change the routes of. */
export interface GatewayChange {
  /** Parent keys (`Gateway/ns/name`, `ListenerSet/ns/name`) routes name. */
  parents: string[];
  /** Routes in this namespace: its labels changed (allowedRoutes selectors). */
  namespace?: string;
}

const GATEWAY_INDEX = 'gateway';

/** Only updates that change what the sources read (their objects are cut to that). */
const contentChanged: Predicate = {
  update: (old, current) => {
    const content = (o: KubeObject) =>
      JSON.stringify([o.metadata?.annotations, (o as Gateway).spec, (o as Gateway).status]);
    return content(old) !== content(current);
  },
};

/**
 * The Gateways (and ListenerSets, and namespace labels) the route sources resolve parents
 * against, cut to what they read, with a watch that tells which routes a change touches.
 */
export class GatewayCache implements GatewayLookup {
  readonly gateways: Informer<Gateway>;
  readonly listenerSets: Informer<ListenerSet> | undefined;
  private readonly namespaces: Informer<Namespace> | undefined;
  private readonly scope: { namespace?: string };

  constructor(cache: Cache, opts: GatewayCacheOptions) {
    // Gateways of any label: --label-filter selects routes, as external-dns's does.
    this.scope = opts.namespace ? { namespace: opts.namespace } : {};
    this.gateways = cache.informer(Gateways, this.scope, {}, { transform: slimGateway });
    this.listenerSets = opts.listenerSets
      ? cache.informer(
          ListenerSets,
          this.scope,
          { [GATEWAY_INDEX]: (ls) => [listenerSetGatewayKey(ls)] },
          { transform: slimListenerSet },
        )
      : undefined;
    // The same metadata-only informer as DomainPolicies read; not readable in one namespace.
    this.namespaces = opts.namespace
      ? undefined
      : cache.informer(Namespaces, { metadataOnly: true });
  }

  gateway(namespace: string, name: string): Gateway | undefined {
    return this.gateways.store.get(`${namespace}/${name}`);
  }

  listenerSet(namespace: string, name: string): ListenerSet | undefined {
    return this.listenerSets?.store.get(`${namespace}/${name}`);
  }

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.namespaces?.store.get(namespace)?.metadata?.labels ?? undefined;
  }

  /** Makes the builder requeue, through `dependents`, what a change may touch. */
  watchedBy<Req, B extends ControllerBuilder<Req, KubeObject>>(
    builder: B,
    dependents: (change: GatewayChange) => Req[],
  ): B {
    const opts = { ...this.scope, predicates: [contentChanged] };
    builder.watches<Gateway>(
      Gateways,
      (gw) => {
        const key = parentKey('Gateway', gw.metadata?.namespace ?? '', gw.metadata?.name ?? '');
        const sets = this.listenerSets?.store.byIndex(GATEWAY_INDEX, key) ?? [];
        return dependents({ parents: [key, ...sets.map(listenerSetKey)] });
      },
      opts,
    );
    if (this.listenerSets)
      builder.watches<ListenerSet>(
        ListenerSets,
        (ls) => dependents({ parents: [listenerSetKey(ls)] }),
        opts,
      );
    if (this.namespaces)
      builder.watches(
        Namespaces,
        (ns) => {
          const name = ns.metadata?.name ?? '';
          const sets = this.listenerSets?.store.byIndex('namespace', name) ?? [];
          return dependents({ parents: sets.map(listenerSetKey), namespace: name });
        },
        { metadataOnly: true, predicates: [{ update: labelsChanged.update, delete: () => false }] },
      );
    return builder;
  }
}

function listenerSetKey(ls: ListenerSet): string {
  return parentKey('ListenerSet', ls.metadata?.namespace ?? '', ls.metadata?.name ?? '');
}
