import type { DnsAnnotations } from './annotations.js';
import type { FieldError, SourceResult } from './endpoint.js';
import { type TargetInput, targetEndpoints } from './validate.js';

/** The part of Ingress and Service status both sources read. */
export interface LoadBalancerStatus {
  ingress?: Array<{ ip?: string; hostname?: string }>;
}

const STATUS_FIELD = 'status.loadBalancer.ingress';

/**
 * Targets from a load balancer status. An entry with both an address and a hostname
 * (some clouds report both) counts as its address: an A record resolves in one step and
 * cannot clash with a CNAME at the same name.
 */
export function loadBalancerTargets(status: LoadBalancerStatus | undefined): TargetInput[] {
  const targets: TargetInput[] = [];
  for (const [i, entry] of (status?.ingress ?? []).entries()) {
    if (entry.ip) targets.push({ value: entry.ip, field: `${STATUS_FIELD}[${i}].ip` });
    else if (entry.hostname) {
      targets.push({ value: entry.hostname, field: `${STATUS_FIELD}[${i}].hostname` });
    }
  }
  return targets;
}

/**
 * The endpoints of names served by a load balancer: the target annotation when set,
 * else the status; TTL and alias from the annotations. `errors` found so far (names,
 * annotations) lead the result's errors.
 */
export function loadBalancerResult(
  names: readonly string[],
  annotations: DnsAnnotations,
  status: LoadBalancerStatus | undefined,
  errors: FieldError[],
): SourceResult {
  const override = annotations.targets;
  const targets = override
    ? override.values.map((value) => ({ value, field: override.field }))
    : loadBalancerTargets(status);
  const built = targetEndpoints(names, targets, {
    ttl: annotations.ttl,
    alias: annotations.alias,
    listField: override?.field ?? STATUS_FIELD,
  });
  return { endpoints: built.endpoints, errors: [...errors, ...built.errors], names: [...names] };
}
