import type { InformerScope } from '@chousei/runtime';

/**
 * The informer scope of every namespaced kind the operator reads: all namespaces, or the one
 * of `--namespace`. Every informer, watch and cache read of those kinds takes this same
 * scope (narrowed by labels at most): the cache keys informers by scope, so any other would
 * start a second informer, and in one namespace a cluster-wide one its Role refuses.
 */
export function servedScope(namespace: string | undefined): InformerScope {
  return namespace ? { namespace } : {};
}

/** Whether ClusterIssuers are watched and used: not in one namespace, as with cert-manager. */
export function servesClusterIssuers(scope: InformerScope): boolean {
  return scope.namespace === undefined;
}

/** Why a Certificate of a ClusterIssuer is not issued in one namespace (condition, warning). */
export const CLUSTER_ISSUERS_NOT_SERVED = 'ClusterIssuers are not served with --namespace';
