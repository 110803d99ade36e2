// Gateway API (gateway.networking.k8s.io/v1, as Gateway API v1.6 serves every kind in both
// channels): the fields the operators read and write, in their JSON form. Not in client-node,
// whose models cover the built-in kinds only.

import { type ResourceType, resourceType } from './resource.js';
import type { Condition, KubeObject, LabelSelector } from './types.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const V1 = `${GATEWAY_GROUP}/v1`;

/** Which namespaces a Gateway admits routes (or ListenerSets) from. */
export interface GatewayNamespaces {
  /** Default Same for routes, None for ListenerSets. */
  from?: 'All' | 'Same' | 'Selector' | 'None';
  selector?: LabelSelector;
}

export interface RouteGroupKind {
  /** Default gateway.networking.k8s.io. */
  group?: string;
  kind: string;
}

export interface AllowedRoutes {
  namespaces?: GatewayNamespaces;
  /** Route kinds the listener takes; none listed: those of its protocol. */
  kinds?: RouteGroupKind[];
}

export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface GatewayTLSConfig {
  /** Default Terminate. */
  mode?: 'Terminate' | 'Passthrough';
  certificateRefs?: SecretObjectReference[];
  /** Implementation-specific settings (Terminate takes certificateRefs, options or both). */
  options?: Record<string, string>;
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  /** HTTP, HTTPS, TLS, TCP, UDP, or an implementation's own. */
  protocol: string;
  tls?: GatewayTLSConfig;
  allowedRoutes?: AllowedRoutes;
}

export interface GatewayStatusAddress {
  /** IPAddress (default), Hostname, or an implementation's own. */
  type?: string;
  value: string;
}

export interface ListenerEntryStatus {
  name: string;
  attachedRoutes?: number;
  conditions?: Condition[];
}

export interface Gateway extends KubeObject {
  spec: {
    gatewayClassName: string;
    listeners: Listener[];
    /** Which namespaces' ListenerSets may attach (default none). */
    allowedListeners?: { namespaces?: GatewayNamespaces };
  };
  status?: {
    addresses?: GatewayStatusAddress[];
    conditions?: Condition[];
    listeners?: ListenerEntryStatus[];
  };
}

/** A reference to the Gateway a ListenerSet adds its listeners to. */
export interface ParentGatewayReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
}

export interface ListenerSet extends KubeObject {
  spec: { parentRef: ParentGatewayReference; listeners: Listener[] };
  status?: { conditions?: Condition[]; listeners?: ListenerEntryStatus[] };
}

/** A route's reference to a Gateway or ListenerSet (and optionally one of its listeners). */
export interface ParentReference {
  /** Default gateway.networking.k8s.io. */
  group?: string;
  /** Default Gateway. */
  kind?: string;
  /** Default the route's namespace. */
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface RouteParentStatus {
  parentRef: ParentReference;
  controllerName: string;
  conditions?: Condition[];
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
}

export interface HTTPRouteRule {
  matches?: HTTPRouteMatch[];
  backendRefs?: BackendRef[];
}

/**
 * What every route kind shares: parents, and hostnames for the kinds that have them (HTTP,
 * GRPC, TLS; TCP and UDP routes have none).
 */
export interface GatewayRoute extends KubeObject {
  spec?: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: unknown[] };
  status?: { parents?: RouteParentStatus[] };
}

export interface HTTPRoute extends GatewayRoute {
  spec?: { parentRefs?: ParentReference[]; hostnames?: string[]; rules?: HTTPRouteRule[] };
}

export const Gateways = resourceType<Gateway>(V1, 'Gateway', 'gateways', true);
export const ListenerSets = resourceType<ListenerSet>(V1, 'ListenerSet', 'listenersets', true);
export const HTTPRoutes = resourceType<HTTPRoute>(V1, 'HTTPRoute', 'httproutes', true);
export const GRPCRoutes = resourceType<GatewayRoute>(V1, 'GRPCRoute', 'grpcroutes', true);
export const TLSRoutes = resourceType<GatewayRoute>(V1, 'TLSRoute', 'tlsroutes', true);
export const TCPRoutes = resourceType<GatewayRoute>(V1, 'TCPRoute', 'tcproutes', true);
export const UDPRoutes = resourceType<GatewayRoute>(V1, 'UDPRoute', 'udproutes', true);

/** A route kind's resource type. */
export type GatewayRouteType = ResourceType<GatewayRoute>;
