import { normalizeName } from '@chousei/dns';
import type { Ingress } from '@chousei/runtime';
import { annotationHostnames, readAnnotations, type SourceOptions } from './annotations.js';
import type { SourceResult } from './endpoint.js';
import { loadBalancerResult } from './loadbalancer.js';
import { hostnameError } from './validate.js';

/** The hosts an Ingress defines: its rules' and (unless ignored) its TLS entries'. */
function definedHosts(
  ingress: Ingress,
  opts: SourceOptions,
): Array<{ host: string; field: string }> {
  const hosts: Array<{ host: string; field: string }> = [];
  // A rule without a host matches every host: there is no name to publish.
  for (const [i, rule] of (ingress.spec?.rules ?? []).entries())
    if (rule.host) hosts.push({ host: rule.host, field: `spec.rules[${i}].host` });
  if (opts.ignoreIngressTlsSpec) return hosts;
  for (const [i, tls] of (ingress.spec?.tls ?? []).entries())
    for (const [j, host] of (tls.hosts ?? []).entries())
      if (host) hosts.push({ host, field: `spec.tls[${i}].hosts[${j}]` });
  return hosts;
}

/**
 * The records an Ingress asks for, as external-dns's Ingress source: the hosts of its rules
 * and of its TLS entries, and the hostname annotation (as `ingress-hostname-source`
 * selects), pointing at its load balancer or the target annotation. Invalid hosts are
 * reported and left out; the other names still publish.
 */
export function ingressEndpoints(ingress: Ingress, opts: SourceOptions = {}): SourceResult {
  const prefixes = opts.annotationPrefixes;
  const { values: annotations, errors } = readAnnotations(ingress, prefixes);
  const mode = annotations.hostnameSource;
  const names = new Set<string>();

  if (mode !== 'annotation-only') {
    for (const { host, field } of definedHosts(ingress, opts)) {
      const name = normalizeName(host);
      const err = hostnameError(name);
      if (err) errors.push({ field, message: `host "${host}" ${err}` });
      else names.add(name);
    }
  }
  if (mode !== 'defined-hosts-only' && !opts.ignoreHostnameAnnotation) {
    const fromAnnotation = annotationHostnames(ingress, prefixes);
    for (const name of fromAnnotation.names) names.add(name);
    errors.push(...fromAnnotation.errors);
  }

  return loadBalancerResult([...names], annotations, ingress.status?.loadBalancer, errors);
}
