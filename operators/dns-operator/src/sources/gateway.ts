// The Gateway side of the Gateway API sources: which listeners a route's parent offers it,
// and where their names point. A route's own names come from gateway-route.ts.
import { normalizeName } from '@chousei/dns';
import {
  type Condition,
  GATEWAY_GROUP,
  type Gateway,
  type GatewayNamespaces,
  type KubeObject,
  type Listener,
  type ListenerSet,
  labelSelectorMatches,
  type ParentReference,
} from '@chousei/runtime';
import { targetAnnotation } from './annotations.js';
import type { FieldError } from './endpoint.js';
import type { TargetInput } from './validate.js';

/** The Gateways, ListenerSets and namespace labels a route's names depend on. */
export interface GatewayLookup {
  gateway(namespace: string, name: string): Gateway | undefined;
  /** Absent when ListenerSets are not read (no --gateway-listener-sets). */
  listenerSet?(namespace: string, name: string): ListenerSet | undefined;
  /**
   * A namespace's labels, for `Selector` in allowedRoutes and allowedListeners; absent when
   * namespaces cannot be read (one watched namespace): such a selector then admits nothing.
   */
  namespaceLabels?(namespace: string): Record<string, string> | undefined;
}

export type ParentKind = 'Gateway' | 'ListenerSet';

/** The key a parent is indexed under: `Gateway/ns/name` or `ListenerSet/ns/name`. */
export function parentKey(kind: ParentKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** A parent reference with its defaults filled in, or undefined when it is no Gateway API parent. */
export function parentOf(
  ref: ParentReference,
  routeNamespace: string,
): { kind: ParentKind; namespace: string; name: string } | undefined {
  const group = ref.group || GATEWAY_GROUP;
  const kind = ref.kind || 'Gateway';
  if (group !== GATEWAY_GROUP || (kind !== 'Gateway' && kind !== 'ListenerSet')) return undefined;
  return { kind, namespace: ref.namespace || routeNamespace, name: ref.name };
}

/** The Gateway a ListenerSet adds its listeners to, as a parent key. */
export function listenerSetGatewayKey(ls: ListenerSet): string {
  const ref = ls.spec?.parentRef;
  return parentKey('Gateway', ref?.namespace || (ls.metadata?.namespace ?? ''), ref?.name ?? '');
}

export function conditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return conditions?.find((c) => c.type === type)?.status === 'True';
}

/** Whether `namespace` is among `from` (relative to the owner's namespace). */
export function namespaceAdmitted(
  spec: GatewayNamespaces | undefined,
  defaultFrom: 'Same' | 'None',
  ownerNamespace: string,
  namespace: string,
  lookup: GatewayLookup,
): boolean {
  switch (spec?.from ?? defaultFrom) {
    case 'All':
      return true;
    case 'Same':
      return namespace === ownerNamespace;
    case 'Selector': {
      const labels = lookup.namespaceLabels?.(namespace);
      return !!spec?.selector && !!labels && labelSelectorMatches(spec.selector, labels);
    }
    default:
      return false;
  }
}

/** What a route's accepted parent offers it: listeners, their owner's namespace, targets. */
export interface ResolvedParent {
  /** `Gateway ns/name` or `ListenerSet ns/name`, for messages. */
  label: string;
  /** The namespace `Same` in the listeners' allowedRoutes means. */
  ownerNamespace: string;
  listeners: Listener[];
  /** The target annotation of the ListenerSet, else of the Gateway, else the Gateway's status.addresses. */
  targets: TargetInput[];
  /** The field naming the whole target list, for errors about the combination. */
  targetsField: string;
  /** Bad target annotations, reported on the route. */
  errors: FieldError[];
}

/**
 * The attached listeners of a parent (one listener when the reference names a section),
 * or undefined when the parent is not found or not attached: a ListenerSet counts once its
 * Gateway admits its namespace (allowedListeners) and it is Accepted, and each of its
 * listeners once Accepted in its status. The target annotation is read under `prefixes`
 * (default ANNOTATION_PREFIXES).
 */
export function resolveParent(
  ref: ParentReference,
  routeNamespace: string,
  lookup: GatewayLookup,
  prefixes?: readonly string[],
): ResolvedParent | undefined {
  const parent = parentOf(ref, routeNamespace);
  if (!parent) return undefined;
  let gateway: Gateway | undefined;
  let listeners: Listener[];
  let listenerSet: ListenerSet | undefined;
  if (parent.kind === 'Gateway') {
    gateway = lookup.gateway(parent.namespace, parent.name);
    listeners = gateway?.spec?.listeners ?? [];
  } else {
    listenerSet = lookup.listenerSet?.(parent.namespace, parent.name);
    if (!listenerSet || !conditionTrue(listenerSet.status?.conditions, 'Accepted')) return;
    const [gwNamespace, gwName] = listenerSetGatewayKey(listenerSet).split('/').slice(1);
    gateway = lookup.gateway(gwNamespace!, gwName!);
    const allowed = gateway?.spec?.allowedListeners?.namespaces;
    if (!gateway || !namespaceAdmitted(allowed, 'None', gwNamespace!, parent.namespace, lookup))
      return;
    const status = listenerSet.status?.listeners ?? [];
    listeners = (listenerSet.spec?.listeners ?? []).filter((l) =>
      conditionTrue(status.find((s) => s.name === l.name)?.conditions, 'Accepted'),
    );
  }
  if (!gateway) return;
  if (ref.sectionName) listeners = listeners.filter((l) => l.name === ref.sectionName);
  const errors: FieldError[] = [];
  const where = (obj: KubeObject, kind: ParentKind) =>
    `${kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`;
  const override =
    (listenerSet && targetOf(listenerSet, where(listenerSet, 'ListenerSet'), errors, prefixes)) ||
    targetOf(gateway, where(gateway, 'Gateway'), errors, prefixes);
  const statusField = `${where(gateway, 'Gateway')} status.addresses`;
  return {
    label: `${parent.kind} ${parent.namespace}/${parent.name}`,
    ownerNamespace: parent.namespace,
    listeners,
    targets:
      override?.targets ??
      (gateway.status?.addresses ?? []).map((a, i) => ({
        value: a.value,
        field: `${statusField}[${i}].value`,
      })),
    targetsField: override?.field ?? statusField,
    errors,
  };
}

function targetOf(
  obj: KubeObject,
  where: string,
  errors: FieldError[],
  prefixes: readonly string[] | undefined,
) {
  const found: FieldError[] = [];
  const t = targetAnnotation(obj, found, prefixes);
  errors.push(...found.map((e) => ({ ...e, field: `${where} ${e.field}` })));
  if (!t) return undefined;
  const field = `${where} ${t.field}`;
  return { targets: t.values.map((value) => ({ value, field })), field };
}

/**
 * The name a listener hostname and a route hostname have in common, or undefined: equal
 * names, a wildcard (`*.example.com`, one or more labels) and a name under it (either
 * side; the more specific wins), or either side empty (any name: the other). Both empty
 * give no name to publish.
 */
export function intersectHostnames(listener: string, route: string): string | undefined {
  const a = normalizeName(listener);
  const b = normalizeName(route);
  if (!a) return b || undefined;
  if (!b || a === b) return a;
  // The wider one first: shorter, or a wildcard of the same length.
  const [wide, narrow] =
    b.length < a.length || (a.length === b.length && b.startsWith('*.')) ? [b, a] : [a, b];
  return wide.startsWith('*.') && narrow.endsWith(wide.slice(1)) ? narrow : undefined;
}

function slimListener(l: Listener): Listener {
  return {
    name: l.name,
    port: l.port,
    protocol: l.protocol,
    ...(l.hostname ? { hostname: l.hostname } : {}),
    ...(l.allowedRoutes ? { allowedRoutes: l.allowedRoutes } : {}),
  };
}

const accepted = (conditions: Condition[] | undefined) =>
  (conditions ?? []).filter((c) => c.type === 'Accepted');

/** A Gateway as the sources read it: listeners without TLS, addresses, no conditions. */
export function slimGateway(gw: Gateway): Gateway {
  return {
    apiVersion: gw.apiVersion,
    kind: gw.kind,
    metadata: gw.metadata,
    spec: {
      gatewayClassName: gw.spec?.gatewayClassName ?? '',
      listeners: (gw.spec?.listeners ?? []).map(slimListener),
      ...(gw.spec?.allowedListeners ? { allowedListeners: gw.spec.allowedListeners } : {}),
    },
    status: { addresses: gw.status?.addresses ?? [] },
  };
}

/** A ListenerSet as the sources read it: its parent, listeners and Accepted conditions. */
export function slimListenerSet(ls: ListenerSet): ListenerSet {
  return {
    apiVersion: ls.apiVersion,
    kind: ls.kind,
    metadata: ls.metadata,
    spec: {
      parentRef: ls.spec?.parentRef,
      listeners: (ls.spec?.listeners ?? []).map(slimListener),
    },
    status: {
      conditions: accepted(ls.status?.conditions),
      listeners: (ls.status?.listeners ?? []).map((s) => ({
        name: s.name,
        conditions: accepted(s.conditions),
      })),
    },
  };
}
