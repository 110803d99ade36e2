// The Gateway API route sources (external-dns's gateway-httproute, -grpcroute, -tlsroute,
// -tcproute, -udproute): a route's names are its hostnames intersected with those of the
// listeners it is attached to, pointing where their Gateway points.
import { normalizeName } from '@chousei/dns';
import {
  GATEWAY_GROUP,
  type GatewayRoute,
  type GatewayRouteType,
  GRPCRoutes,
  HTTPRoutes,
  type Listener,
  type ParentReference,
  TCPRoutes,
  TLSRoutes,
  UDPRoutes,
} from '@chousei/runtime';
import {
  annotationHostnames,
  findAnnotation,
  readAnnotations,
  type SourceOptions,
} from './annotations.js';
import type { Endpoint, FieldError, SourceResult } from './endpoint.js';
import {
  conditionTrue,
  type GatewayLookup,
  intersectHostnames,
  namespaceAdmitted,
  parentKey,
  parentOf,
  type ResolvedParent,
  resolveParent,
} from './gateway.js';
import { hostnameError, type TargetInput, targetEndpoints } from './validate.js';

export type GatewayRouteSourceKind =
  | 'gateway-httproute'
  | 'gateway-grpcroute'
  | 'gateway-tlsroute'
  | 'gateway-tcproute'
  | 'gateway-udproute';

export interface GatewayRouteKind {
  resource: GatewayRouteType;
  /** Listener protocols the route kind attaches to (HTTPS counts as HTTP, TLS takes TCP routes too). */
  protocols: readonly string[];
}

export const GATEWAY_ROUTE_KINDS: Record<GatewayRouteSourceKind, GatewayRouteKind> = {
  'gateway-httproute': { resource: HTTPRoutes, protocols: ['HTTP', 'HTTPS'] },
  'gateway-grpcroute': { resource: GRPCRoutes, protocols: ['HTTP', 'HTTPS'] },
  'gateway-tlsroute': { resource: TLSRoutes, protocols: ['TLS'] },
  'gateway-tcproute': { resource: TCPRoutes, protocols: ['TCP', 'TLS'] },
  'gateway-udproute': { resource: UDPRoutes, protocols: ['UDP'] },
};

/** Whether the status reference names one of the route's own spec.parentRefs. */
function inSpec(route: GatewayRoute, ref: ParentReference): boolean {
  const ns = route.metadata?.namespace ?? '';
  const want = parentOf(ref, ns);
  return (route.spec?.parentRefs ?? []).some((r) => {
    const p = parentOf(r, ns);
    return (
      !!p &&
      !!want &&
      p.kind === want.kind &&
      p.namespace === want.namespace &&
      p.name === want.name
    );
  });
}

/** Whether the listener takes routes of this kind from the route's namespace. */
function listenerAdmits(
  l: Listener,
  parent: ResolvedParent,
  route: GatewayRoute,
  kind: GatewayRouteKind,
  lookup: GatewayLookup,
): boolean {
  const allowed = l.allowedRoutes;
  const ns = route.metadata?.namespace ?? '';
  if (!namespaceAdmitted(allowed?.namespaces, 'Same', parent.ownerNamespace, ns, lookup))
    return false;
  return (
    !allowed?.kinds?.length ||
    allowed.kinds.some(
      (k) => (k.group || GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === kind.resource.kind,
    )
  );
}

/**
 * The route's own hostnames: spec.hostnames (none: '' for "the listener's"), the hostname
 * annotation, as `gateway-hostname-source` selects (annotation-only, defined-hosts-only).
 */
function routeHostnames(route: GatewayRoute, opts: SourceOptions, errors: FieldError[]): string[] {
  const source = findAnnotation(route, 'gateway-hostname-source', opts.annotationPrefixes);
  const mode = source?.value.trim().toLowerCase() ?? '';
  if (mode && mode !== 'annotation-only' && mode !== 'defined-hosts-only') {
    errors.push({
      field: source!.field,
      message: `must be "defined-hosts-only" or "annotation-only", got "${source!.value}"`,
    });
  }
  const hosts: string[] = [];
  if (mode !== 'annotation-only') {
    const spec = route.spec?.hostnames ?? [];
    for (const [i, raw] of spec.entries()) {
      const name = normalizeName(raw);
      const err = hostnameError(name);
      if (err) errors.push({ field: `spec.hostnames[${i}]`, message: `hostname "${raw}" ${err}` });
      else hosts.push(name);
    }
    if (!spec.length) hosts.push('');
  }
  if (mode !== 'defined-hosts-only') {
    const annotated = annotationHostnames(route, opts.annotationPrefixes);
    hosts.push(...annotated.names);
    errors.push(...annotated.errors);
  }
  return hosts;
}

/** Per name, the targets of the parents it came from, and the field naming them. */
type HostTargets = Map<string, { targets: TargetInput[]; field: string }>;

function addTargets(hosts: HostTargets, host: string, parent: ResolvedParent): void {
  const found = hosts.get(host);
  if (!found) {
    hosts.set(host, { targets: [...parent.targets], field: parent.targetsField });
    return;
  }
  for (const t of parent.targets)
    if (!found.targets.some((x) => x.value === t.value)) found.targets.push(t);
  // Targets merged from several parents: the route's status.parents names them all.
  if (found.field !== parent.targetsField) found.field = 'status.parents';
}

/**
 * The records a route asks for. Only parents that accepted it count (status.parents[] with
 * Accepted=True, naming one of its spec.parentRefs), and of those only the listeners of the
 * route's protocol (and the reference's sectionName and port) whose allowedRoutes admit
 * its namespace and kind. Names without targets yet (a Gateway without addresses) are
 * claimed all the same, so their last records stay. Annotations, the route's and its
 * parents', are read under `opts.annotationPrefixes`, as on Ingresses.
 */
export function gatewayRouteEndpoints(
  route: GatewayRoute,
  kind: GatewayRouteKind,
  lookup: GatewayLookup,
  opts: SourceOptions = {},
): SourceResult {
  const { values: annotations, errors } = readAnnotations(route, opts.annotationPrefixes);
  if (annotations.targets) {
    errors.push({
      field: annotations.targets.field,
      message:
        'is not read on routes: set it on the Gateway (or ListenerSet) the route attaches to',
    });
  }
  const own = routeHostnames(route, opts, errors);
  const ns = route.metadata?.namespace ?? '';
  const hosts: HostTargets = new Map();
  for (const status of route.status?.parents ?? []) {
    if (!conditionTrue(status.conditions, 'Accepted') || !inSpec(route, status.parentRef)) continue;
    const parent = resolveParent(status.parentRef, ns, lookup, opts.annotationPrefixes);
    if (!parent) continue;
    errors.push(...parent.errors);
    for (const l of parent.listeners) {
      if (!kind.protocols.includes(l.protocol)) continue;
      if (status.parentRef.port !== undefined && status.parentRef.port !== l.port) continue;
      if (!listenerAdmits(l, parent, route, kind, lookup)) continue;
      for (const h of own) {
        const host = intersectHostnames(l.hostname ?? '', h);
        if (host) addTargets(hosts, host, parent);
      }
    }
  }

  const endpoints: Endpoint[] = [];
  for (const [host, { targets, field }] of hosts) {
    const built = targetEndpoints([host], targets, {
      ttl: annotations.ttl,
      alias: annotations.alias,
      listField: field,
    });
    endpoints.push(...built.endpoints);
    errors.push(...built.errors);
  }
  return { endpoints, errors: dedupe(errors), names: [...hosts.keys()] };
}

/** Each error once: a bad target reached through several names or parents is one mistake. */
function dedupe(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.field}\n${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The parents a route names (`Gateway/ns/name`, `ListenerSet/ns/name`): its index values. */
export function routeParentKeys(route: GatewayRoute): string[] {
  const ns = route.metadata?.namespace ?? '';
  const keys = new Set<string>();
  for (const ref of route.spec?.parentRefs ?? []) {
    const p = parentOf(ref, ns);
    if (p) keys.add(parentKey(p.kind, p.namespace, p.name));
  }
  return [...keys];
}

/**
 * A route as the sources read it: no rules (the bulk of an HTTPRoute), only each parent's
 * Accepted condition.
 */
export function slimRoute(route: GatewayRoute): GatewayRoute {
  return {
    apiVersion: route.apiVersion,
    kind: route.kind,
    metadata: route.metadata,
    spec: {
      ...(route.spec?.parentRefs ? { parentRefs: route.spec.parentRefs } : {}),
      ...(route.spec?.hostnames ? { hostnames: route.spec.hostnames } : {}),
    },
    status: {
      parents: (route.status?.parents ?? []).map((p) => ({
        parentRef: p.parentRef,
        controllerName: p.controllerName,
        conditions: (p.conditions ?? []).filter((c) => c.type === 'Accepted'),
      })),
    },
  };
}
