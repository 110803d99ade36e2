// The record model <-> PowerDNS API rrsets. The API speaks zone-file presentation form:
// absolute names with a trailing dot, TXT content quoted with RFC 1035 decimal escapes.
import { normalizeName, type RecordSet, type RecordType } from '../../records.js';
import { fqdn, readValue, unescapeText, writeValue } from '../presentation.js';

/** An rrset as the API lists it (`GET .../zones/{id}`). */
export interface PdnsRRSet {
  name: string;
  type: string;
  ttl: number;
  records: Array<{ content: string; disabled?: boolean }>;
}

/** One rrset operation of a zone PATCH. */
export type PdnsRRSetChange =
  | (PdnsRRSet & { changetype: 'REPLACE' })
  | { name: string; type: string; changetype: 'DELETE' };

/** A zone as the API lists it (`GET .../zones`). */
export interface PdnsZone {
  id: string;
  name: string;
  kind?: string;
  rrsets?: PdnsRRSet[];
}

/**
 * A listed rrset in the model's form, or undefined for what the model does not carry:
 * other types (SOA, CAA, PTR...) and sets whose records are all disabled.
 */
export function fromPdns(rr: PdnsRRSet, types: readonly RecordType[]): RecordSet | undefined {
  if (!types.includes(rr.type as RecordType)) return undefined;
  const type = rr.type as RecordType;
  const values = rr.records.filter((r) => !r.disabled).map((r) => readValue(type, r.content));
  if (values.length === 0) return undefined;
  return { name: normalizeName(unescapeText(rr.name, 10)), type, ttl: rr.ttl, values };
}

/** The PATCH operation that leaves `key`'s rrset as `record`, or deletes it. */
export function toPdnsChange(
  name: string,
  type: RecordType,
  record: RecordSet | undefined,
): PdnsRRSetChange {
  if (!record) return { name: fqdn(name), type, changetype: 'DELETE' };
  return {
    name: fqdn(record.name),
    type: record.type,
    ttl: record.ttl,
    changetype: 'REPLACE',
    records: record.values.map((v) => ({ content: writeValue(record.type, v), disabled: false })),
  };
}
