import { isIP } from 'node:net';
import { normalizeName } from '@chousei/dns';
import { MAX_NAME_LENGTH, MAX_TTL, MIN_TTL } from '../api/dnsendpoint.js';
import type { Endpoint, FieldError } from './endpoint.js';

const MAX_LABEL_LENGTH = 63;

// RFC 1123 labels, plus underscores anywhere for SRV-style and other service names
// (`_sip._tcp.example.com`, `_dmarc.example.com`), which DNS allows and providers accept.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;

/**
 * Why `name` (already normalised: lower-case, no trailing dot) is not a valid record
 * name, or undefined when it is. A leading `*.` wildcard label is allowed unless
 * `wildcard: false` (targets cannot be wildcards).
 */
export function hostnameError(name: string, opts: { wildcard?: boolean } = {}): string | undefined {
  if (name === '') return 'must not be empty';
  if (name.length > MAX_NAME_LENGTH) {
    return `must be at most ${MAX_NAME_LENGTH} characters, got ${name.length}`;
  }
  const labels = name.split('.');
  if (labels[0] === '*' && labels.length > 1) {
    if (opts.wildcard === false) return 'must not be a wildcard';
    labels.shift();
  }
  // A one-label name is its label: naming it again would say the same thing twice.
  const which = (label: string) => (labels.length > 1 ? `label "${label}" ` : '');
  for (const label of labels) {
    if (label === '') return 'must not contain empty labels';
    if (label.length > MAX_LABEL_LENGTH) {
      return `${which(label)}is longer than ${MAX_LABEL_LENGTH} characters`;
    }
    if (!LABEL.test(label)) {
      return `${which(label)}must consist of a-z, 0-9, '-' or '_' and must not start or end with '-'`;
    }
  }
  return undefined;
}

export function isValidHostname(name: string, opts: { wildcard?: boolean } = {}): boolean {
  return hostnameError(name, opts) === undefined;
}

/** 4 or 6 for an IP address literal, 0 otherwise (zones like `fe80::1%eth0` are not addresses in DNS). */
export function ipFamily(value: string): 0 | 4 | 6 {
  if (value.includes('%')) return 0;
  return isIP(value) as 0 | 4 | 6;
}

/**
 * The RFC 5952 form of an IPv6 address (`2001:DB8:0::1` -> `2001:db8::1`), so the same
 * address written two ways does not look like a change to the planner. Embedded IPv4
 * forms are only lower-cased: URL parsing would rewrite them to hex.
 */
export function canonicalIPv6(value: string): string {
  if (value.includes('.')) return value.toLowerCase();
  return new URL(`http://[${value}]/`).hostname.slice(1, -1);
}

export function ttlError(ttl: number): string | undefined {
  if (!Number.isInteger(ttl) || ttl < MIN_TTL || ttl > MAX_TTL) {
    return `must be an integer number of seconds from ${MIN_TTL} to ${MAX_TTL}, got ${ttl}`;
  }
  return undefined;
}

const DURATION_UNITS: Record<string, number> = { h: 3600, m: 60, s: 1 };

/**
 * A TTL as annotations write it: integer seconds (`300`) or a duration in h/m/s
 * (`90s`, `5m`, `1h30m`), the forms external-dns users already have.
 */
export function parseTTL(value: string): { ttl: number } | { error: string } {
  const text = value.trim();
  let seconds: number;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else if (/^(?:\d+h)?(?:\d+m)?(?:\d+s)?$/.test(text) && text !== '') {
    seconds = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)([hms])/g)) {
      seconds += Number(n) * DURATION_UNITS[unit!]!;
    }
  } else {
    return {
      error: `must be a number of seconds or a duration like 90s, 5m or 1h, got "${value}"`,
    };
  }
  const err = ttlError(seconds);
  return err ? { error: err } : { ttl: seconds };
}

/** A target and the field it came from, so errors can point at it. */
export interface TargetInput {
  value: string;
  field: string;
}

export interface TargetOptions {
  ttl?: number | undefined;
  /** Ask for a provider alias instead of a plain CNAME for hostname targets. */
  alias?: boolean | undefined;
  /** The field naming the whole list, for errors about the combination of targets. */
  listField: string;
}

/**
 * Sorts targets by kind and builds the endpoints every name gets: IPv4 -> A, IPv6 -> AAAA,
 * hostname -> CNAME. A CNAME must be alone at its name (RFC 1034 §3.6.2), so several
 * distinct hostname targets, or hostnames mixed with addresses, are reported rather than
 * published; the addresses still are.
 */
export function targetEndpoints(
  names: readonly string[],
  targets: readonly TargetInput[],
  opts: TargetOptions,
): { endpoints: Endpoint[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  const hosts = new Set<string>();
  for (const { value, field } of targets) {
    const text = value.trim();
    const family = ipFamily(text);
    if (family === 4) v4.add(text);
    else if (family === 6) v6.add(canonicalIPv6(text));
    else {
      const host = normalizeName(text);
      const err = hostnameError(host, { wildcard: false });
      if (err)
        errors.push({
          field,
          message: `target "${value}" is neither an IP address nor a valid hostname: ${err}`,
        });
      else hosts.add(host);
    }
  }

  let cname: string | undefined;
  if (hosts.size > 1) {
    errors.push({
      field: opts.listField,
      message: `a CNAME takes one target, got ${hosts.size} hostnames: ${[...hosts].join(', ')}`,
    });
  } else if (hosts.size === 1 && (v4.size > 0 || v6.size > 0)) {
    errors.push({
      field: opts.listField,
      message: `hostname target ${[...hosts][0]} cannot be published beside IP address targets: a CNAME must be the only record at its name`,
    });
  } else if (hosts.size === 1) {
    cname = [...hosts][0];
  }

  const ttl = opts.ttl === undefined ? {} : { ttl: opts.ttl };
  const endpoints: Endpoint[] = [];
  for (const name of names) {
    if (v4.size) endpoints.push({ name, type: 'A', targets: [...v4], ...ttl });
    if (v6.size) endpoints.push({ name, type: 'AAAA', targets: [...v6], ...ttl });
    if (cname) {
      endpoints.push({
        name,
        type: 'CNAME',
        targets: [cname],
        ...ttl,
        ...(opts.alias ? { alias: true } : {}),
      });
    }
  }
  return { endpoints, errors };
}
