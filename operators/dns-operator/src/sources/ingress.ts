import { normalizeName } from '@chousei/dns';
import type { Ingress } from '@chousei/runtime';
import { annotationHostnames, readAnnotations, type SourceOptions } from './annotations.js';
import type { SourceResult } from './endpoint.js';
import { loadBalancerResult } from './loadbalancer.js';
import { hostnameError } from './validate.js';

/**
 * The records an Ingress asks for: its rules' hosts and the hostname annotation (as
 * `ingress-hostname-source` selects), pointing at its load balancer or the target
 * annotation. Invalid hosts are reported and left out; the other names still publish.
 */
export function ingressEndpoints(ingress: Ingress, opts: SourceOptions = {}): SourceResult {
  const { values: annotations, errors } = readAnnotations(ingress);
  const mode = annotations.hostnameSource;
  const names = new Set<string>();

  if (mode !== 'annotation-only') {
    for (const [i, rule] of (ingress.spec?.rules ?? []).entries()) {
      // A rule without a host matches every host: there is no name to publish.
      if (!rule.host) continue;
      const name = normalizeName(rule.host);
      const err = hostnameError(name);
      if (err)
        errors.push({ field: `spec.rules[${i}].host`, message: `host "${rule.host}" ${err}` });
      else names.add(name);
    }
  }
  if (mode !== 'defined-hosts-only' && !opts.ignoreHostnameAnnotation) {
    const fromAnnotation = annotationHostnames(ingress);
    for (const name of fromAnnotation.names) names.add(name);
    errors.push(...fromAnnotation.errors);
  }

  return loadBalancerResult([...names], annotations, ingress.status?.loadBalancer, errors);
}
