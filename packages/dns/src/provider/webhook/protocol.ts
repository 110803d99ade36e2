// external-dns's webhook provider protocol (its docs/tutorials/webhook-provider.md and
// api/webhook.yaml, and the JSON of its endpoint.Endpoint, endpoint.DomainFilter and
// plan.Changes types): the wire types, and the record model on both sides of them.
import { inZone, normalizeName, type RecordSet, type RecordType } from '../../records.js';
import { quoteTxt, readValue } from '../presentation.js';
import { WRITABLE_TYPES } from '../provider.js';

/** The media type and version both sides speak, in Accept and Content-Type. */
export const MEDIA_TYPE = 'application/external.dns.webhook+json;version=1';

/** external-dns's ProviderSpecificProperty. */
export interface ProviderSpecificProperty {
  name: string;
  value: string;
}

/** external-dns's endpoint.Endpoint as JSON: one record set. */
export interface WebhookEndpoint {
  dnsName: string;
  targets?: string[];
  recordType: string;
  setIdentifier?: string;
  /** 0 or absent: not configured (the provider's default). */
  recordTTL?: number;
  labels?: Record<string, string>;
  providerSpecific?: ProviderSpecificProperty[];
}

/** external-dns's plan.Changes as JSON: `updateOld[i]` becomes `updateNew[i]`. */
export interface WebhookChanges {
  create?: WebhookEndpoint[];
  updateOld?: WebhookEndpoint[];
  updateNew?: WebhookEndpoint[];
  delete?: WebhookEndpoint[];
}

/**
 * external-dns's endpoint.DomainFilter as JSON (`GET /`): domains as `include`/`exclude`,
 * or regular expressions. Releases before the OpenAPI file was updated wrote `filters`.
 */
export interface WebhookDomainFilter {
  include?: string[];
  exclude?: string[];
  regexInclude?: string;
  regexExclude?: string;
  filters?: string[];
}

/**
 * A model value as external-dns writes targets: names without the trailing dot, TXT as
 * quoted presentation form (as external-dns's TXT registry writes its records; providers
 * unquote it).
 */
function target(type: RecordType, value: string): string {
  return type === 'TXT' ? quoteTxt(value) : value;
}

/** A target in the model's form: a quoted TXT unquoted, a name's trailing dot dropped. */
function modelValue(type: RecordType, value: string): string {
  const quoted = value.length >= 2 && value.startsWith('"') && value.endsWith('"');
  return type === 'TXT' && !quoted ? value : readValue(type, value);
}

/** A model record set as an endpoint, with the provider-specific properties given. */
export function toEndpoint(
  record: RecordSet,
  providerSpecific?: ProviderSpecificProperty[],
): WebhookEndpoint {
  return {
    dnsName: record.name,
    recordType: record.type,
    recordTTL: record.ttl,
    targets: record.values.map((v) => target(record.type, v)),
    ...(providerSpecific?.length ? { providerSpecific } : {}),
  };
}

/**
 * An endpoint in the model's form, or undefined for what the model does not carry: other
 * types (PTR, CAA, NAPTR...), routing-policy sets (a setIdentifier), sets without targets.
 */
export function fromEndpoint(ep: WebhookEndpoint): RecordSet | undefined {
  if (!WRITABLE_TYPES.includes(ep.recordType as RecordType)) return undefined;
  if (ep.setIdentifier) return undefined;
  const type = ep.recordType as RecordType;
  const values = [...new Set((ep.targets ?? []).map((t) => modelValue(type, t)))];
  if (values.length === 0) return undefined;
  return { name: normalizeName(ep.dnsName), type, ttl: ep.recordTTL ?? 0, values };
}

/** The domains of a negotiated filter, normalised; regular expressions name none. */
export function filterDomains(filter: WebhookDomainFilter): {
  include: string[];
  exclude: string[];
} {
  const clean = (list: string[] | undefined) => [
    ...new Set((list ?? []).map((d) => normalizeName(d.replace(/^\./, ''))).filter(Boolean)),
  ];
  return { include: clean(filter.include ?? filter.filters), exclude: clean(filter.exclude) };
}

/** Whether `name` is under one of `domains`. */
export function underAny(name: string, domains: string[]): boolean {
  return domains.some((d) => inZone(name, d));
}
