import { type AliasAsk, normalizeName, type RecordType } from '@chousei/dns';
import {
  DNS_ENDPOINT_RECORD_TYPES,
  type DNSEndpoint,
  type DNSEndpointRecord,
  type DNSEndpointRecordType,
} from '../api/dnsendpoint.js';
import type { Endpoint, FieldError, SourceResult } from './endpoint.js';
import { canonicalIPv6, hostnameError, ipFamily, ttlError } from './validate.js';

const MAX_UINT16 = 65535;

function isUint16(text: string | undefined): boolean {
  return text !== undefined && /^\d{1,5}$/.test(text) && Number(text) <= MAX_UINT16;
}

/** An absolute name (`mail.example.com.`) in the record model's form, or why it is not one. */
function absoluteName(text: string | undefined): { name: string } | { error: string } {
  if (!text?.endsWith('.') || text === '.') {
    return { error: `"${text ?? ''}" must be an absolute name ending in a dot` };
  }
  const name = normalizeName(text);
  const err = hostnameError(name, { wildcard: false });
  return err ? { error: `"${text}" ${err}` } : { name };
}

/** One target in the record model's presentation form, or why it cannot be one. */
function normaliseTarget(
  type: DNSEndpointRecordType,
  target: string,
): { value: string } | { error: string } {
  switch (type) {
    case 'A':
      return ipFamily(target) === 4
        ? { value: target }
        : { error: `"${target}" must be an IPv4 address` };
    case 'AAAA':
      return ipFamily(target) === 6
        ? { value: canonicalIPv6(target) }
        : { error: `"${target}" must be an IPv6 address` };
    case 'CNAME': {
      // external-dns writes CNAME targets with or without the dot: both are absolute.
      const name = normalizeName(target);
      const err = hostnameError(name, { wildcard: false });
      return err ? { error: `"${target}" must be a hostname: ${err}` } : { value: name };
    }
    case 'TXT':
      // Text is data: kept byte for byte.
      return { value: target };
    case 'SRV': {
      const parts = target.trim().split(/\s+/);
      if (parts.length !== 4 || !parts.slice(0, 3).every(isUint16)) {
        return {
          error:
            `"${target}" must be "priority weight port target." with numbers from 0 to 65535, ` +
            'e.g. "10 5 443 sip.example.com."',
        };
      }
      const host = absoluteName(parts[3]);
      // The caller says "SRV target": this names the part of it.
      if ('error' in host) return { error: `host ${host.error}` };
      return { value: `${parts.slice(0, 3).map(Number).join(' ')} ${host.name}` };
    }
    case 'MX': {
      const parts = target.trim().split(/\s+/);
      if (parts.length !== 2 || !isUint16(parts[0])) {
        return {
          error:
            `"${target}" must be "preference exchange." with a preference from 0 to 65535, ` +
            'e.g. "10 mail.example.com."',
        };
      }
      const host = absoluteName(parts[1]);
      if ('error' in host) return { error: `exchange ${host.error}` };
      return { value: `${Number(parts[0])} ${host.name}` };
    }
  }
}

function recordEndpoint(
  record: DNSEndpointRecord,
  field: string,
): { endpoint?: Endpoint; name?: string; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const name = normalizeName(typeof record.dnsName === 'string' ? record.dnsName : '');
  const nameErr = hostnameError(name);
  if (nameErr)
    errors.push({ field: `${field}.dnsName`, message: `"${record.dnsName}" ${nameErr}` });

  const type = record.recordType;
  if (!(DNS_ENDPOINT_RECORD_TYPES as readonly string[]).includes(type)) {
    errors.push({
      field: `${field}.recordType`,
      message: `"${type}" is not one of ${DNS_ENDPOINT_RECORD_TYPES.join(', ')}`,
    });
  }

  if (record.recordTTL !== undefined) {
    const err = ttlError(record.recordTTL);
    if (err) errors.push({ field: `${field}.recordTTL`, message: `TTL ${err}` });
  }

  // Under an older or schemaless CRD the API server may have let anything through.
  const targets: unknown[] = Array.isArray(record.targets) ? record.targets : [];
  const values: string[] = [];
  if (targets.length === 0) {
    errors.push({ field: `${field}.targets`, message: 'must list at least one target' });
  } else if (type === 'CNAME' && targets.length > 1) {
    errors.push({
      field: `${field}.targets`,
      message: `a CNAME record takes exactly one target, got ${targets.length}`,
    });
  } else if (errors.every((e) => e.field !== `${field}.recordType`)) {
    for (const [i, target] of targets.entries()) {
      const result =
        typeof target === 'string' ? normaliseTarget(type, target) : { error: 'must be a string' };
      if ('error' in result) {
        errors.push({ field: `${field}.targets[${i}]`, message: `${type} target ${result.error}` });
      } else if (!values.includes(result.value)) {
        values.push(result.value);
      }
    }
  }

  if (errors.length) return nameErr ? { errors } : { name, errors };
  const endpoint: Endpoint = { name, type: type satisfies RecordType, targets: values };
  if (record.recordTTL !== undefined) endpoint.ttl = record.recordTTL;
  const alias = aliasProperty(record);
  if (alias !== undefined) endpoint.alias = alias;
  return { endpoint, name, errors };
}

/** The providerSpecific `alias` property, read as external-dns's GetAliasProperty reads it. */
function aliasProperty(record: DNSEndpointRecord): AliasAsk | undefined {
  const props = Array.isArray(record.providerSpecific) ? record.providerSpecific : [];
  const value = props.find((p) => p?.name === 'alias')?.value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value === 'A' || value === 'AAAA' ? value : undefined;
}

/**
 * The records a DNSEndpoint lists, validated as its CRD does (the installed CRD may be
 * older, and the status needs reasons per endpoint). An endpoint with errors is left
 * out; the others proceed. Its name still counts when valid, so a typo in a target does
 * not withdraw what was published before.
 */
export function dnsEndpointEndpoints(obj: DNSEndpoint): SourceResult {
  const result: SourceResult = { endpoints: [], errors: [], names: [] };
  // name/type -> the field that claimed it first: one record set cannot have two owners.
  const claimed = new Map<string, string>();
  for (const [i, record] of (obj.spec?.endpoints ?? []).entries()) {
    const field = `spec.endpoints[${i}]`;
    const { endpoint, name, errors } = recordEndpoint(record, field);
    result.errors.push(...errors);
    if (name && !result.names.includes(name)) result.names.push(name);
    if (!endpoint) continue;
    const key = `${endpoint.name}/${endpoint.type}`;
    const first = claimed.get(key);
    if (first) {
      result.errors.push({
        field,
        message: `${endpoint.type} ${endpoint.name} is already listed at ${first}`,
      });
      continue;
    }
    claimed.set(key, field);
    result.endpoints.push(endpoint);
  }
  return result;
}
