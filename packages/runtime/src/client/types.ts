import type {
  EventsV1Event,
  V1ConfigMap,
  V1CustomResourceDefinition,
  V1Ingress,
  V1Lease,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1Pod,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';

/**
 * The JSON form of a client-node model: what the API server sends, with timestamps as
 * RFC 3339 strings (client-node's models type them as Date, which is only true after its
 * own deserialisation; this runtime hands out the JSON as received).
 */
export type Json<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
}

/** Any Kubernetes object in its JSON form. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** The metadata-only form of an object (`PartialObjectMetadata`). */
export interface PartialObjectMetadata extends KubeObject {
  metadata: ObjectMeta;
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface ObjectList<T> {
  apiVersion?: string;
  kind?: string;
  metadata: ListMeta;
  items: T[];
}

/** Names an object: cluster-scoped ones have no namespace. */
export interface ObjectKey {
  namespace?: string;
  name: string;
}

export type ConfigMap = Json<V1ConfigMap>;
export type Secret = Json<V1Secret>;
export type Service = Json<V1Service>;
export type Ingress = Json<V1Ingress>;
export type Namespace = Json<V1Namespace>;
export type Pod = Json<V1Pod>;
export type ServiceAccount = Json<V1ServiceAccount>;
export type Lease = Json<V1Lease>;
export type Event = Json<EventsV1Event>;
export type CustomResourceDefinition = Json<V1CustomResourceDefinition>;
export type ValidatingWebhookConfiguration = Json<V1ValidatingWebhookConfiguration>;
export type MutatingWebhookConfiguration = Json<V1MutatingWebhookConfiguration>;

/** One term of a LabelSelector (metav1.LabelSelectorRequirement). */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** For In and NotIn: not empty; for Exists and DoesNotExist: none. */
  values?: string[];
}

/**
 * metav1.LabelSelector: every matchLabels pair and every matchExpressions term must hold.
 * An empty selector matches everything, as in Kubernetes.
 */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** The standard `metav1.Condition` of a status, in its JSON form. */
export interface Condition {
  /** CamelCase, e.g. `Ready`, or `example.com/Ready`. */
  type: string;
  status: ConditionStatus;
  /** CamelCase, machine-readable: why the condition is in this state. */
  reason: string;
  /** Human-readable detail; may be empty. */
  message: string;
  /** The metadata.generation this condition was computed from. */
  observedGeneration?: number;
  /** RFC 3339: when status last changed. */
  lastTransitionTime: string;
}

/** `namespace/name`, or `name` for cluster-scoped objects: the key of caches and queues. */
export function objectKey(obj: KubeObject | ObjectKey): string {
  const meta = 'metadata' in obj ? (obj.metadata ?? {}) : (obj as ObjectKey);
  return meta.namespace ? `${meta.namespace}/${meta.name}` : (meta.name ?? '');
}

/**
 * The ObjectKey naming `obj` (no namespace for a cluster-scoped one): the request of an
 * object controller, the key of a get or a patch. Given `what` (the operation, for the
 * message), an object without metadata.name is an error rather than an empty name.
 */
export function keyOf(obj: KubeObject, what?: string): ObjectKey {
  const name = obj.metadata?.name ?? '';
  if (!name && what !== undefined) throw new Error(`${what}: metadata.name is required`);
  const namespace = obj.metadata?.namespace;
  return namespace ? { namespace, name } : { name };
}

/** Parses a `namespace/name` key. */
export function parseObjectKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
