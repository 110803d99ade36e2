import { type DomainPolicyCache, touchedBy } from '@chousei/dns';
import { type ControllerBuilder, type Informer, keyOf } from '@chousei/runtime';
import type { Certificate } from '../api/types.js';

// DomainPolicies for Certificates: a ClusterIssuer is shared by every namespace, so once a
// policy exists, it issues a namespace only the names a policy gives that namespace (the
// dns-operator applies the same policies to records). An Issuer is the namespace's own.

/** The names a Certificate asks for, with the field each comes from. */
function namesOf(cert: Certificate): Array<{ field: string; name: string }> {
  return [
    ...(cert.spec.commonName ? [{ field: 'spec.commonName', name: cert.spec.commonName }] : []),
    ...(cert.spec.dnsNames ?? []).map((name, i) => ({ field: `spec.dnsNames[${i}]`, name })),
  ];
}

const fromClusterIssuer = (cert: Certificate) => cert.spec.issuerRef.kind === 'ClusterIssuer';

/**
 * Why a Certificate of a ClusterIssuer may not be issued for its namespace: its first name
 * the policies refuse, with the field and the rule; undefined when all are allowed.
 */
export function domainRefusal(policies: DomainPolicyCache, cert: Certificate): string | undefined {
  const namespace = cert.metadata?.namespace ?? '';
  for (const { field, name } of namesOf(cert)) {
    const verdict = policies.judge(namespace, name);
    if (!verdict.allowed)
      return `not issued from ClusterIssuer ${cert.spec.issuerRef.name}: ${field}: ${verdict.message}`;
  }
  return undefined;
}

/** Certificates of ClusterIssuers are looked at again when a policy or a namespace's labels change. */
export function watchDomainPolicies(
  builder: ControllerBuilder,
  policies: DomainPolicyCache,
  certificates: Informer<Certificate>,
): void {
  policies.watchedBy(builder, {
    byPolicy: (change) =>
      certificates.store
        .list()
        .filter((c) => fromClusterIssuer(c) && namesOf(c).some((n) => touchedBy(change, n.name)))
        .map((c) => keyOf(c)),
    byNamespace: (namespace) =>
      certificates.store
        .byIndex('namespace', namespace)
        .filter(fromClusterIssuer)
        .map((c) => keyOf(c)),
  });
}
