import { inZone, normalizeName, type Zone } from '../../records.js';

/** Which hosted zones a provider works on; every set criterion must hold. */
export interface Route53ZoneFilter {
  /**
   * Domains the zone serves: a zone matches a domain it equals, is under (`a.example.com`
   * for `example.com`), or contains (`example.com` for `a.example.com`, whose records it
   * holds unless delegated).
   */
  domains?: string[];
  /** Zones equal to or under any of these are left out. */
  excludeDomains?: string[];
  /** Hosted zone ids, with or without the `/hostedzone/` prefix; none or empty: any. */
  zoneIds?: string[];
  type?: 'public' | 'private';
  /** Tags the zone must carry with these exact values. */
  tags?: Record<string, string>;
}

/** `Z123` from `/hostedzone/Z123`. */
export function bareZoneId(id: string): string {
  return id.replace(/^\/?hostedzone\//, '');
}

/** Every criterion but tags (which cost a request to learn). */
export function zoneMatches(zone: Zone, filter: Route53ZoneFilter): boolean {
  // An empty list is no filter (as external-dns reads an unset --zone-id-filter): every
  // zone the credentials list, as the other criteria allow.
  if (filter.zoneIds?.length && !filter.zoneIds.map(bareZoneId).includes(zone.id)) return false;
  if (filter.type && (filter.type === 'private') !== !!zone.private) return false;
  if (filter.domains && filter.domains.length > 0) {
    const ok = filter.domains
      .map(normalizeName)
      .some((d) => inZone(zone.name, d) || inZone(d, zone.name));
    if (!ok) return false;
  }
  if (filter.excludeDomains?.map(normalizeName).some((d) => inZone(zone.name, d))) return false;
  return true;
}

export function tagsMatch(tags: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => tags[k] === v);
}
