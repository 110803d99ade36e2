import type {
  ConfigMap,
  CustomResourceDefinition,
  Event,
  Ingress,
  KubeObject,
  Lease,
  MutatingWebhookConfiguration,
  Namespace,
  Pod,
  Secret,
  Service,
  ServiceAccount,
  ValidatingWebhookConfiguration,
} from './types.js';

/**
 * Where a kind lives in the API: everything the client needs to build its paths. `T` is
 * the object type the resource's calls return; it exists only at compile time.
 */
export interface ResourceType<T extends KubeObject = KubeObject> {
  /** `v1` for the core group, else `group/version`. */
  readonly apiVersion: string;
  readonly kind: string;
  /** The lower-case plural in the URL, e.g. `ingresses`. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Phantom field carrying `T`; never set. */
  readonly __type?: T;
}

/** Declares a resource type, e.g. for a custom resource of your own. */
export function resourceType<T extends KubeObject>(
  apiVersion: string,
  kind: string,
  plural: string,
  namespaced: boolean,
): ResourceType<T> {
  return Object.freeze({ apiVersion, kind, plural, namespaced });
}

export interface PathOptions {
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

/** The URL path of a collection, an object or a subresource. */
export function resourcePath(rt: ResourceType, opts: PathOptions = {}): string {
  const base = rt.apiVersion.includes('/') ? `/apis/${rt.apiVersion}` : `/api/${rt.apiVersion}`;
  const ns =
    rt.namespaced && opts.namespace ? `/namespaces/${encodeURIComponent(opts.namespace)}` : '';
  let path = `${base}${ns}/${rt.plural}`;
  if (opts.name) path += `/${encodeURIComponent(opts.name)}`;
  if (opts.subresource) path += `/${opts.subresource}`;
  return path;
}

/** A short label for logs and metrics, e.g. `Ingress.networking.k8s.io`. */
export function groupKind(rt: ResourceType): string {
  const slash = rt.apiVersion.indexOf('/');
  return slash < 0 ? rt.kind : `${rt.kind}.${rt.apiVersion.slice(0, slash)}`;
}

export const ConfigMaps = resourceType<ConfigMap>('v1', 'ConfigMap', 'configmaps', true);
export const Secrets = resourceType<Secret>('v1', 'Secret', 'secrets', true);
export const Services = resourceType<Service>('v1', 'Service', 'services', true);
export const Pods = resourceType<Pod>('v1', 'Pod', 'pods', true);
export const ServiceAccounts = resourceType<ServiceAccount>(
  'v1',
  'ServiceAccount',
  'serviceaccounts',
  true,
);
export const Namespaces = resourceType<Namespace>('v1', 'Namespace', 'namespaces', false);
export const Ingresses = resourceType<Ingress>(
  'networking.k8s.io/v1',
  'Ingress',
  'ingresses',
  true,
);
export const Leases = resourceType<Lease>('coordination.k8s.io/v1', 'Lease', 'leases', true);
export const Events = resourceType<Event>('events.k8s.io/v1', 'Event', 'events', true);
export const CustomResourceDefinitions = resourceType<CustomResourceDefinition>(
  'apiextensions.k8s.io/v1',
  'CustomResourceDefinition',
  'customresourcedefinitions',
  false,
);
export const ValidatingWebhookConfigurations = resourceType<ValidatingWebhookConfiguration>(
  'admissionregistration.k8s.io/v1',
  'ValidatingWebhookConfiguration',
  'validatingwebhookconfigurations',
  false,
);
export const MutatingWebhookConfigurations = resourceType<MutatingWebhookConfiguration>(
  'admissionregistration.k8s.io/v1',
  'MutatingWebhookConfiguration',
  'mutatingwebhookconfigurations',
  false,
);
