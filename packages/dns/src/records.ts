/** Record types this package can read and write. */
export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'NS', 'SOA'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/**
 * One record set: all values of one type at one name. Names are lower-case, absolute,
 * without the trailing dot (`www.example.com`); a wildcard is `*.example.com`. Values are
 * in presentation form without trailing dots:
 * - A / AAAA: the address (`192.0.2.1`, `2001:db8::1`)
 * - CNAME / NS: the target name (`lb.example.net`)
 * - TXT: the text itself, unquoted and unsplit (a provider splits it into 255-byte strings)
 * - SRV: `priority weight port target` (`10 5 443 svc.example.com`)
 * - MX: `preference exchange` (`10 mail.example.com`)
 */
export interface RecordSet {
  name: string;
  type: RecordType;
  ttl: number;
  values: string[];
  /** Route53 alias instead of values (A/AAAA to a load balancer in an AWS zone). */
  alias?: AliasTarget;
}

export interface AliasTarget {
  hostedZoneId: string;
  dnsName: string;
  evaluateTargetHealth?: boolean;
}

/** A DNS zone as the provider names it. */
export interface Zone {
  /** Provider id (Route53 hosted zone id, or the zone name for RFC2136). */
  id: string;
  /** Apex name, lower-case without trailing dot. */
  name: string;
  private?: boolean;
  tags?: Record<string, string>;
}

/**
 * One change to a zone. `group` ties changes that must be applied together (a record and
 * its ownership TXT): a provider never splits a group across calls, and when a call is
 * rejected it retries each group alone so one bad record cannot fail the others.
 */
export type Change =
  | { action: 'create'; record: RecordSet; group?: string }
  | { action: 'delete'; record: RecordSet; group?: string }
  | { action: 'update'; old: RecordSet; record: RecordSet; group?: string };

/** Normalises a name: lower-case, no trailing dot. */
export function normalizeName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** Whether `name` is `zone` or below it. */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** The most specific of `zones` holding `name` (the longest apex). */
export function mostSpecificZone<Z extends { name: string }>(
  name: string,
  zones: Z[],
): Z | undefined {
  let best: Z | undefined;
  for (const z of zones)
    if (inZone(name, z.name) && (!best || z.name.length > best.name.length)) best = z;
  return best;
}

/** `name/TYPE`: identifies a record set within a zone. */
export function recordKey(r: Pick<RecordSet, 'name' | 'type'>): string {
  return `${r.name}/${r.type}`;
}

/** Same values (in any order), TTL and alias. */
export function sameRecord(a: RecordSet, b: RecordSet): boolean {
  if (a.name !== b.name || a.type !== b.type || a.ttl !== b.ttl) return false;
  if (!!a.alias !== !!b.alias) return false;
  if (a.alias && b.alias) {
    return (
      a.alias.hostedZoneId === b.alias.hostedZoneId &&
      normalizeName(a.alias.dnsName) === normalizeName(b.alias.dnsName) &&
      !!a.alias.evaluateTargetHealth === !!b.alias.evaluateTargetHealth
    );
  }
  if (a.values.length !== b.values.length) return false;
  const sorted = [...b.values].sort();
  return [...a.values].sort().every((v, i) => v === sorted[i]);
}
