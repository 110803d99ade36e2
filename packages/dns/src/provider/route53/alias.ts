import { type AliasTarget, normalizeName } from '../../records.js';
import { canonicalHostedZoneId } from './canonical-zones.js';

/**
 * Route53 alias records carry no TTL of their own (resolvers get the target's). The model
 * needs one, so alias records read back with this TTL: sources should write them with it
 * too, or the planner sees a TTL difference on every pass.
 */
export const ALIAS_TTL = 300;

/**
 * The alias target for a hostname when it is an AWS load balancer in a canonical zone
 * (ALB/CLB `*.<region>.elb.amazonaws.com`, NLB `*.elb.<region>.amazonaws.com`, with or
 * without `dualstack.`), else undefined: the caller then writes a CNAME. Aliases answer at
 * the zone apex, where a CNAME is not allowed, and are free of query charges.
 */
export function aliasFor(hostname: string, evaluateTargetHealth = true): AliasTarget | undefined {
  const dnsName = normalizeName(hostname);
  const hostedZoneId = canonicalHostedZoneId(dnsName);
  return hostedZoneId ? { hostedZoneId, dnsName, evaluateTargetHealth } : undefined;
}
