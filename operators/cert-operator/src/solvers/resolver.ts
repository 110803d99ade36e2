// DNS queries sent straight to chosen servers: DNS-01 zone lookups and self-checks, and the
// HTTP-01 self-check.
import { lookup, Resolver } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';

/** A DNS server to ask directly. */
export interface Nameserver {
  host: string;
  /** Default 53. */
  port?: number;
}

/** Per query to one server: an unanswered query counts as "not there yet". */
const QUERY_TIMEOUT_MS = 2000;

/** `HOST`, `HOST:PORT` or `[V6]:PORT`; port 53 when not given. */
export function parseNameserver(hostPort: string): Required<Nameserver> {
  if (isIPv6(hostPort.trim())) return { host: hostPort.trim(), port: 53 };
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hostPort.trim());
  return { host: m?.[1] ?? hostPort, port: Number(m?.[2] ?? 53) };
}

/** `host:port`, IPv6 in brackets: what Resolver.setServers takes and messages show. */
export function nameserverAddress(s: Nameserver): string {
  const port = s.port ?? 53;
  return isIPv6(s.host) ? `[${s.host}]:${port}` : `${s.host}:${port}`;
}

/** A nameserver given by a host name the system resolver has no address for. */
export class NameserverAddressError extends Error {
  override name = 'NameserverAddressError';
}

/**
 * Runs `query` on a resolver of its own that asks `servers` (in order) and nothing else,
 * each `tries` times. A fresh resolver per query: no answer cached from an earlier round
 * (c-ares caches them), as a check that waits for a change needs.
 */
export async function queryServers<T>(
  servers: readonly Nameserver[],
  query: (resolver: Resolver) => Promise<T>,
  tries = 1,
): Promise<T> {
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries });
  resolver.setServers((await Promise.all(servers.map(serverAddresses))).flat());
  try {
    return await query(resolver);
  } finally {
    resolver.cancel();
  }
}

/** `host:port` of each address of a server: setServers takes IP addresses only. */
async function serverAddresses(s: Nameserver): Promise<string[]> {
  if (isIP(s.host)) return [nameserverAddress(s)];
  try {
    const found = await lookup(s.host, { all: true });
    return found.map((a) => nameserverAddress({ host: a.address, port: s.port }));
  } catch (err) {
    // Not the query's own code: ENOTFOUND here is no NXDOMAIN for the name asked about.
    throw new NameserverAddressError(`no address for nameserver ${s.host} (${dnsErrorCode(err)})`, {
      cause: err,
    });
  }
}

/** The error code of a failed query (`ENOTFOUND` is NXDOMAIN, `ENODATA` no such record). */
export function dnsErrorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}
