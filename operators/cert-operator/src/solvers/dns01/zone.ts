// The zone of a record name found as cert-manager finds it: by asking a server for SOA
// records, from the name up, until one is the apex of a zone. For providers that cannot
// list their zones (RFC2136).
import type { Zone } from '@chousei/dns';
import { IssuanceError } from '../../issuance.js';
import { dnsErrorCode, type Nameserver, nameserverAddress, queryServers } from '../resolver.js';

/** Zones rarely move: a found apex is reused this long before asking again. */
const ZONE_CACHE_MS = 30 * 60_000;

/** Attempts per SOA query: a lost datagram should not fail an issuance. */
const QUERY_TRIES = 2;

/** The zone of a record name could not be found at a server. */
export class ZoneLookupError extends IssuanceError {
  override name = 'ZoneLookupError';
  constructor(
    reason: 'NoDNSZone' | 'DNSZoneLookupFailed',
    message: string,
    /** The record name whose zone was looked for. */
    readonly fqdn: string,
    /** `host:port` of the server asked. */
    readonly server: string,
    options?: { cause?: unknown },
  ) {
    // The zones a server holds change without the Issuer changing: worth asking again.
    super(reason, message, true, undefined, options);
  }
}

/** The name and each parent down to the top-level label: where a zone apex may be. */
export function enclosingNames(fqdn: string): string[] {
  const labels = fqdn.split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

/**
 * A zone finder asking `server` only: the first of a name's enclosing names it answers an
 * SOA record for is the zone apex. Found zones are cached; lookups of one name at once share
 * their queries (a wildcard and its base name have one challenge record).
 */
export function soaZoneFinder(server: Nameserver): (fqdn: string) => Promise<Zone> {
  const address = nameserverAddress(server);
  const found = new Map<string, { zone: Promise<Zone>; expires: number }>();

  const lookUp = async (fqdn: string): Promise<Zone> => {
    for (const name of enclosingNames(fqdn)) {
      try {
        await queryServers([server], (r) => r.resolveSoa(name), QUERY_TRIES);
        return { id: name, name };
      } catch (err) {
        const code = dnsErrorCode(err);
        // NXDOMAIN, or the name exists without an SOA: the apex is further up.
        if (code === 'ENOTFOUND' || code === 'ENODATA') continue;
        const hint = code === 'EREFUSED' ? ' (does it serve a zone holding the name?)' : '';
        throw new ZoneLookupError(
          'DNSZoneLookupFailed',
          `finding the zone of ${fqdn}: the SOA query for ${name} to ${address} failed: ${code}${hint}`,
          fqdn,
          address,
          { cause: err },
        );
      }
    }
    throw new ZoneLookupError(
      'NoDNSZone',
      `no zone at ${address} holds ${fqdn}: none of its names has an SOA record`,
      fqdn,
      address,
    );
  };

  return (fqdn) => {
    const now = Date.now();
    const cached = found.get(fqdn);
    if (cached && cached.expires > now) return cached.zone;
    for (const [name, entry] of found) if (entry.expires <= now) found.delete(name);
    const zone = lookUp(fqdn);
    found.set(fqdn, { zone, expires: now + ZONE_CACHE_MS });
    // A failure is not cached: the next attempt asks again.
    zone.catch(() => {
      if (found.get(fqdn)?.zone === zone) found.delete(fqdn);
    });
    return zone;
  };
}
