// The pieces setupDnsOperator builds from its options before wiring them into controllers:
// which objects claim which names, the ownership registry and the zone filter. Exported so
// tools that explain the operator (kubectl-chousei) read the cluster exactly as it does.
import { DEFAULT_MANAGED_TYPES, type RecordType, TxtRegistry, type Zone } from '@chousei/dns';
import { Ingresses, type KubeObject, type ResourceType, Services } from '@chousei/runtime';
import { DNSEndpoints } from './api/dnsendpoint.js';
import { type Claimant, resourceLabel } from './controller/claims.js';
import type { SourceResult } from './sources/endpoint.js';
import {
  annotationFilter,
  annotationPrefixes,
  dnsEndpointEndpoints,
  domainFilter,
  GATEWAY_ROUTE_KINDS,
  type GatewayLookup,
  type GatewayRouteSourceKind,
  gatewayRouteEndpoints,
  ingressClassMatches,
  ingressEndpoints,
  isChallengeRoute,
  routeParentKeys,
  serviceEndpoints,
  slimRoute,
} from './sources/index.js';

export type SourceKind = 'ingress' | 'service' | 'dnsendpoint' | GatewayRouteSourceKind;

/** Every source kind, in the order --help lists them. */
export const SOURCE_KINDS: readonly SourceKind[] = [
  'ingress',
  'service',
  'dnsendpoint',
  ...(Object.keys(GATEWAY_ROUTE_KINDS) as GatewayRouteSourceKind[]),
];

export function isGatewayRouteSource(kind: SourceKind): kind is GatewayRouteSourceKind {
  return kind in GATEWAY_ROUTE_KINDS;
}

/** One kind of object that claims DNS names. */
export interface SourceDef<T extends KubeObject = KubeObject> {
  kind: SourceKind;
  /** Kind as written in ownership records' resource (`ingress/ns/name`) and messages. */
  label: string;
  resource: ResourceType<T>;
  read(obj: T): SourceResult;
  /** Passes the class and annotation filters (label and namespace filters are list scopes). */
  admits(obj: T): boolean;
  /** Cuts each object to what `read` and the operator use, as it arrives (memory). */
  transform?: (obj: T) => T;
  /**
   * Indexes of the objects beyond their namespace: for routes, `parents` (the Gateways and
   * ListenerSets they name), so a change to one finds the routes whose names it changes.
   */
  indexers?: Record<string, (obj: T) => string[]>;
}

export interface SourceOptions {
  sources: SourceKind[];
  ingressClasses?: string[];
  annotationFilter?: string;
  domainFilter?: string[];
  excludeDomains?: string[];
  /** Types written; endpoints of others are set apart as `unmanaged`. Default A, AAAA, CNAME. */
  managedTypes?: readonly RecordType[];
  /** external-dns's --annotation-prefix: annotations are read under it alone. */
  annotationPrefix?: string;
  /** external-dns's --ignore-ingress-tls-spec. */
  ignoreIngressTlsSpec?: boolean;
}

/** The source kinds in use and what each object claims, within the managed domains. */
export interface Sources {
  defs: SourceDef[];
  /**
   * The object's endpoints and names, those outside the domain filters dropped, endpoints
   * of unmanaged types set apart.
   */
  resultOf(def: SourceDef, obj: KubeObject): SourceResult;
  /** Names the object claims: none when a filter leaves it out. */
  claims(def: SourceDef, obj: KubeObject): string[];
  claimant(def: SourceDef, obj: KubeObject): Claimant;
  /**
   * Drops what was made of the object: for routes, whose names also depend on their
   * Gateways, after a change to one of those.
   */
  forget(obj: KubeObject): void;
}

/** The index of routes by the parents they name. */
export const PARENTS_INDEX = 'parents';

/**
 * The sources of `opts`; `gateways` answers the Gateway API route sources' questions about
 * Gateways, ListenerSets and namespaces (required when one is among the sources).
 */
export function sourcesFor(opts: SourceOptions, gateways?: GatewayLookup): Sources {
  const inDomains = domainFilter({
    include: opts.domainFilter ?? [],
    exclude: opts.excludeDomains ?? [],
  });
  const annotationsOk = opts.annotationFilter
    ? annotationFilter(opts.annotationFilter)
    : () => true;
  const classes = opts.ingressClasses ?? [];
  const managed = new Set(opts.managedTypes ?? DEFAULT_MANAGED_TYPES);
  const read = {
    annotationPrefixes: annotationPrefixes(opts.annotationPrefix),
    ...(opts.ignoreIngressTlsSpec ? { ignoreIngressTlsSpec: true } : {}),
  };

  // Source results are computed once per object version: stored objects are frozen and
  // replaced on change, so the object itself is the cache key.
  const results = new WeakMap<object, SourceResult>();
  const resultOf = (def: SourceDef, obj: KubeObject): SourceResult => {
    let r = results.get(obj);
    if (!r) {
      const raw = def.read(obj);
      const names = raw.names.filter(inDomains);
      const inScope = raw.endpoints.filter((e) => names.includes(e.name));
      r = {
        ...raw,
        names,
        endpoints: inScope.filter((e) => managed.has(e.type)),
        unmanaged: inScope.filter((e) => !managed.has(e.type)),
      };
      results.set(obj, r);
    }
    return r;
  };

  const defs: SourceDef[] = [];
  const add = <T extends KubeObject>(def: SourceDef<T>) => {
    if (opts.sources.includes(def.kind)) defs.push(def as unknown as SourceDef);
  };
  add({
    kind: 'ingress',
    label: 'Ingress',
    resource: Ingresses,
    read: (o) => ingressEndpoints(o, read),
    admits: (o) => ingressClassMatches(o, classes) && annotationsOk(o) && !isChallengeRoute(o),
  });
  add({
    kind: 'service',
    label: 'Service',
    resource: Services,
    read: (o) => serviceEndpoints(o, read),
    admits: (o) => annotationsOk(o),
  });
  add({
    kind: 'dnsendpoint',
    label: 'DNSEndpoint',
    resource: DNSEndpoints,
    read: (o) => dnsEndpointEndpoints(o),
    admits: (o) => annotationsOk(o),
  });
  for (const kind of opts.sources.filter(isGatewayRouteSource)) {
    const route = GATEWAY_ROUTE_KINDS[kind];
    if (!gateways) throw new Error(`source ${kind} needs a Gateway lookup`);
    add({
      kind,
      label: route.resource.kind,
      resource: route.resource,
      read: (o) => gatewayRouteEndpoints(o, route, gateways, read),
      admits: (o) => annotationsOk(o) && !isChallengeRoute(o),
      transform: slimRoute,
      indexers: { [PARENTS_INDEX]: routeParentKeys },
    });
  }

  return {
    defs,
    resultOf,
    forget: (obj) => results.delete(obj),
    claims: (def, obj) => (def.admits(obj) ? resultOf(def, obj).names : []),
    claimant: (def, obj) => ({
      obj,
      resource: resourceLabel(def.label, obj),
      result: resultOf(def, obj),
    }),
  };
}

export interface RegistryOptions {
  ownerId: string;
  txtPrefix?: string;
  txtSuffix?: string;
  txtWildcardReplacement?: string;
}

/** The ownership registry of the given owner id and TXT naming. */
export function txtRegistryFor(opts: RegistryOptions): TxtRegistry {
  return new TxtRegistry({
    ownerId: opts.ownerId,
    ...(opts.txtPrefix ? { prefix: opts.txtPrefix } : {}),
    ...(opts.txtSuffix ? { suffix: opts.txtSuffix } : {}),
    ...(opts.txtWildcardReplacement ? { wildcardReplacement: opts.txtWildcardReplacement } : {}),
  });
}

/** Zones to manage: all, or those under, equal to or above a filtered domain. */
export function zoneFilterFor(domains: string[] | undefined): (zone: Zone) => boolean {
  return (z) =>
    !domains?.length ||
    domains.some((d) => z.name === d || z.name.endsWith(`.${d}`) || d.endsWith(`.${z.name}`));
}
