// The record model <-> Route53 ResourceRecordSet. Route53 speaks zone-file presentation:
// absolute names with a trailing dot and `\ooo` octal escapes, TXT as quoted strings of at
// most 255 bytes; the model has none of that (see records.ts).
import type { Change as R53Change, ResourceRecordSet, RRType } from '@aws-sdk/client-route-53';
import {
  type Change,
  normalizeName,
  type RecordSet,
  type RecordType,
  recordKey,
} from '../../records.js';
import {
  escapeByte,
  fqdn,
  quoteTxt as quote,
  readValue,
  unescapeText,
  unquoteTxt as unquote,
  writeValue,
} from '../presentation.js';
import { ALIAS_TTL } from './alias.js';

/** A Route53 name (`\052.example.com.`) in the model's form (`*.example.com`). */
export function unescapeName(name: string): string {
  return normalizeName(unescapeText(name, 8));
}

const NAME_SAFE = /^[a-z0-9\-_.*]$/;
const NAME_SAFE_ALL = /^[a-z0-9\-_.*]*$/;
const encoder = new TextEncoder();

/**
 * A model name as Route53 wants it: lower-case, absolute, and every byte outside
 * `a-z 0-9 - _ . *` as a `\ooo` octal escape (Route53 rejects them raw).
 */
export function escapeName(name: string): string {
  const normal = normalizeName(name);
  // Most names need no escape: not rebuilt character by character.
  if (NAME_SAFE_ALL.test(normal)) return `${normal}.`;
  let out = '';
  for (const ch of normal) {
    if (NAME_SAFE.test(ch)) out += ch;
    else for (const b of encoder.encode(ch)) out += escapeByte(b, 8);
  }
  return `${out}.`;
}

/** One TXT value as Route53 wants it: presentation form with octal escapes. */
export const quoteTxt = (value: string): string => quote(value, 8);

/** A Route53 TXT value back to one text (`"abc" "def"` is `abcdef`). */
export const unquoteTxt = (raw: string): string => unquote(raw, 8);

const MODEL_TYPES: ReadonlySet<string> = new Set<RecordType>([
  'A',
  'AAAA',
  'CNAME',
  'TXT',
  'SRV',
  'MX',
  'NS',
  'SOA',
]);

function isRecordType(type: string): type is RecordType {
  return MODEL_TYPES.has(type);
}

/**
 * A listed record set in the model's form, or undefined when the model cannot hold it:
 * types it does not know (CAA, PTR...), and routing-policy sets (weighted, latency,
 * failover, geo...: they carry a SetIdentifier) which are someone else's to manage and
 * which a plain record at the same name would clash with anyway.
 */
export function fromRoute53(rr: ResourceRecordSet): RecordSet | undefined {
  if (!rr.Name || !rr.Type || !isRecordType(rr.Type)) return undefined;
  if (rr.SetIdentifier !== undefined || rr.TrafficPolicyInstanceId !== undefined) return undefined;
  const type = rr.Type;
  const name = unescapeName(rr.Name);
  if (rr.AliasTarget) {
    return {
      name,
      type,
      ttl: ALIAS_TTL,
      values: [],
      alias: {
        hostedZoneId: rr.AliasTarget.HostedZoneId ?? '',
        dnsName: normalizeName(rr.AliasTarget.DNSName ?? ''),
        evaluateTargetHealth: rr.AliasTarget.EvaluateTargetHealth ?? false,
      },
    };
  }
  const values = (rr.ResourceRecords ?? []).map((r) => readValue(type, r.Value ?? '', 8));
  return { name, type, ttl: rr.TTL ?? 0, values };
}

/** A model record set as Route53 wants it written. */
export function toRoute53(record: RecordSet): ResourceRecordSet {
  const Name = escapeName(record.name);
  const Type: RRType = record.type;
  if (record.alias) {
    return {
      Name,
      Type,
      AliasTarget: {
        HostedZoneId: record.alias.hostedZoneId,
        DNSName: fqdn(normalizeName(record.alias.dnsName)),
        EvaluateTargetHealth: record.alias.evaluateTargetHealth ?? false,
      },
    };
  }
  const ResourceRecords = record.values.map((v) => ({ Value: writeValue(record.type, v, 8) }));
  return { Name, Type, TTL: record.ttl, ResourceRecords };
}

/**
 * How a record set must be spelled to delete it. Route53 deletes only on an exact match of
 * what it holds, so the provider passes the set as it was listed when it still matches;
 * `toRoute53` is right for what this provider wrote itself.
 */
export type ExactRecord = (record: RecordSet) => ResourceRecordSet;

/**
 * The Route53 changes for one model change: create is CREATE, delete is DELETE, update is
 * UPSERT, or DELETE + CREATE when the name, type or alias-ness changes (UPSERT replaces only
 * the set with the same name and type). Both halves go in the same call, so they land
 * together or not at all.
 */
export function toRoute53Changes(change: Change, exact: ExactRecord = toRoute53): R53Change[] {
  switch (change.action) {
    case 'create':
      return [{ Action: 'CREATE', ResourceRecordSet: toRoute53(change.record) }];
    case 'delete':
      return [{ Action: 'DELETE', ResourceRecordSet: exact(change.record) }];
    case 'update': {
      const { old, record } = change;
      if (recordKey(old) === recordKey(record) && !!old.alias === !!record.alias) {
        return [{ Action: 'UPSERT', ResourceRecordSet: toRoute53(record) }];
      }
      return [
        { Action: 'DELETE', ResourceRecordSet: exact(old) },
        { Action: 'CREATE', ResourceRecordSet: toRoute53(record) },
      ];
    }
  }
}
