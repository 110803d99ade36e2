import type { Service } from '@chousei/runtime';
import { annotationHostnames, readAnnotations, type SourceOptions } from './annotations.js';
import type { SourceResult } from './endpoint.js';
import { loadBalancerResult } from './loadbalancer.js';

/**
 * The records a Service asks for: the hostname annotation's names pointing at its load
 * balancer (or the target annotation). Only LoadBalancer Services have an address
 * worth publishing; any other Service yields nothing, errors included.
 */
export function serviceEndpoints(service: Service, opts: SourceOptions = {}): SourceResult {
  if (service.spec?.type !== 'LoadBalancer') return { endpoints: [], errors: [], names: [] };
  // Without the annotation a Service has no names (no FQDN templates here).
  const prefixes = opts.annotationPrefixes;
  const hostnames = opts.ignoreHostnameAnnotation
    ? { names: [], errors: [] }
    : annotationHostnames(service, prefixes);
  const { values, errors } = readAnnotations(service, prefixes);
  return loadBalancerResult(hostnames.names, values, service.status?.loadBalancer, [
    ...hostnames.errors,
    ...errors,
  ]);
}
