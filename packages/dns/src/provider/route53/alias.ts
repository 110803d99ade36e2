import { type AliasTarget, inZone, normalizeName, type Zone } from '../../records.js';
import { canonicalHostedZoneId } from './canonical-zones.js';

/**
 * Route53 alias records carry no TTL of their own (resolvers get the target's). The model
 * needs one, so alias records read back with this TTL: sources should write them with it
 * too, or the planner sees a TTL difference on every pass.
 */
export const ALIAS_TTL = 300;

/**
 * The alias target for a hostname when it is an AWS endpoint with a canonical zone (load
 * balancers, CloudFront, API Gateway, Global Accelerator, VPC endpoints: see
 * canonical-zones.ts), else undefined: the caller then writes a CNAME. Aliases answer at
 * the zone apex, where a CNAME is not allowed, and are free of query charges.
 */
export function aliasFor(hostname: string, evaluateTargetHealth = true): AliasTarget | undefined {
  const dnsName = normalizeName(hostname);
  const hostedZoneId = canonicalHostedZoneId(dnsName);
  return hostedZoneId ? { hostedZoneId, dnsName, evaluateTargetHealth } : undefined;
}

/**
 * An endpoint's alias property, as external-dns's `alias` provider-specific property (the
 * `alias: "true"` annotation, a DNSEndpoint's `providerSpecific`): true for an A and an
 * AAAA alias, `A` or `AAAA` for one of them, false for a CNAME; unset: the provider decides.
 */
export type AliasAsk = boolean | 'A' | 'AAAA';

/** The alias records to write instead of a CNAME: their types and their target. */
export interface AliasRecords {
  types: Array<'A' | 'AAAA'>;
  target: AliasTarget;
}

/** What becomes of a CNAME endpoint to `hostname` in `zone`: aliases, or undefined (a CNAME). */
export type AliasPolicy = (
  hostname: string,
  ask: AliasAsk | undefined,
  zone: Zone,
) => AliasRecords | undefined;

export interface AliasPolicyOptions {
  /** external-dns `--aws-prefer-cname`: no alias unless the endpoint asks for one. */
  preferCname?: boolean;
  /** external-dns `--aws-evaluate-target-health` (default true). */
  evaluateTargetHealth?: boolean;
}

/**
 * Aliases as external-dns v0.22's AWS provider makes them of a CNAME endpoint
 * (AdjustEndpoints, useAlias, isAWSAlias): unless `preferCname`, every CNAME to an AWS
 * endpoint with a canonical zone becomes an A and an AAAA alias, whatever its source; an
 * endpoint asking for an alias gets one also with `preferCname`, and to a name in its own
 * zone (the zone's id as target zone). external-dns also tries that for targets outside the
 * zone, which Route53 refuses: those stay CNAMEs here.
 */
export function route53Aliases(opts: AliasPolicyOptions = {}): AliasPolicy {
  const evaluateTargetHealth = opts.evaluateTargetHealth ?? true;
  return (hostname, ask, zone) => {
    if (ask === false) return undefined;
    const dnsName = normalizeName(hostname);
    const canonical = canonicalHostedZoneId(dnsName);
    if (ask === undefined && (opts.preferCname || !canonical)) return undefined;
    const hostedZoneId = canonical ?? (inZone(dnsName, zone.name) ? zone.id : undefined);
    if (!hostedZoneId) return undefined;
    const types: AliasRecords['types'] = ask === 'A' || ask === 'AAAA' ? [ask] : ['A', 'AAAA'];
    return { types, target: { hostedZoneId, dnsName, evaluateTargetHealth } };
  };
}
