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
import { ALIAS_TTL } from './alias.js';

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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The longest character-string in a TXT record (RFC 1035), in bytes. */
export const TXT_CHUNK_BYTES = 255;

const octal = (byte: number) => `\\${byte.toString(8).padStart(3, '0')}`;

/**
 * Reads the escapes of a presentation-form string: `\ooo` (three octal digits, what Route53
 * writes, e.g. `\052` for `*`) is one byte, `\x` is x. Bytes are decoded as UTF-8 at the end,
 * so a multi-byte character split across escapes comes back whole.
 */
class ByteReader {
  private readonly bytes: number[] = [];

  push(text: string): void {
    for (const b of encoder.encode(text)) this.bytes.push(b);
  }

  /** Consumes the escape at `chars[i]` (a backslash); returns the index after it. */
  escape(chars: string[], i: number): number {
    const digits = chars.slice(i + 1, i + 4).join('');
    if (/^[0-7]{3}$/.test(digits)) {
      this.bytes.push(Number.parseInt(digits, 8) & 0xff);
      return i + 4;
    }
    if (i + 1 < chars.length) this.push(chars[i + 1]!);
    return i + 2;
  }

  text(): string {
    return decoder.decode(new Uint8Array(this.bytes));
  }
}

/** A Route53 name (`\052.example.com.`) in the model's form (`*.example.com`). */
export function unescapeName(name: string): string {
  if (!name.includes('\\')) return normalizeName(name);
  const chars = Array.from(name);
  const out = new ByteReader();
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\') i = out.escape(chars, i);
    else out.push(chars[i++]!);
  }
  return normalizeName(out.text());
}

const NAME_SAFE = /^[a-z0-9\-_.*]$/;

/**
 * A model name as Route53 wants it: lower-case, absolute, and every byte outside
 * `a-z 0-9 - _ . *` as a `\ooo` octal escape (Route53 rejects them raw).
 */
export function escapeName(name: string): string {
  let out = '';
  for (const ch of normalizeName(name)) {
    if (NAME_SAFE.test(ch)) out += ch;
    else for (const b of encoder.encode(ch)) out += octal(b);
  }
  return `${out}.`;
}

/** `name.`: a name with exactly one trailing dot. */
export function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function stripDot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * One TXT value as Route53 wants it: quoted strings of at most 255 bytes each, separated by
 * spaces, with `"` and `\` escaped and non-printable or non-ASCII bytes as `\ooo`.
 */
export function quoteTxt(value: string): string {
  const bytes = encoder.encode(value);
  const strings: string[] = [];
  for (let start = 0; start === 0 || start < bytes.length; start += TXT_CHUNK_BYTES) {
    let s = '"';
    for (const b of bytes.subarray(start, start + TXT_CHUNK_BYTES)) {
      if (b === 0x22) s += '\\"';
      else if (b === 0x5c) s += '\\\\';
      else if (b < 0x20 || b > 0x7e) s += octal(b);
      else s += String.fromCharCode(b);
    }
    strings.push(`${s}"`);
  }
  return strings.join(' ');
}

/**
 * A Route53 TXT value back to one text: every character-string (quoted or not) unescaped
 * and joined, so `"abc" "def"` is `abcdef`. The 255-byte split is transport, not content.
 */
export function unquoteTxt(raw: string): string {
  const chars = Array.from(raw);
  const out = new ByteReader();
  let i = 0;
  while (i < chars.length) {
    const ch = chars[i]!;
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (ch === '"') {
      i++;
      while (i < chars.length && chars[i] !== '"') {
        if (chars[i] === '\\') i = out.escape(chars, i);
        else out.push(chars[i++]!);
      }
      i++; // the closing quote
    } else {
      while (i < chars.length && chars[i] !== ' ' && chars[i] !== '\t') {
        if (chars[i] === '\\') i = out.escape(chars, i);
        else out.push(chars[i++]!);
      }
    }
  }
  return out.text();
}

/** The last field of `pref exchange` / `prio weight port target` with `f` applied. */
function mapLastField(value: string, f: (name: string) => string): string {
  const fields = value.trim().split(/\s+/);
  fields[fields.length - 1] = f(fields[fields.length - 1]!);
  return fields.join(' ');
}

function writeValue(type: RecordType, value: string): string {
  switch (type) {
    case 'TXT':
      return quoteTxt(value);
    case 'CNAME':
    case 'NS':
      return fqdn(value);
    case 'MX':
    case 'SRV':
      return mapLastField(value, fqdn);
    default:
      return value;
  }
}

function readValue(type: RecordType, value: string): string {
  switch (type) {
    case 'TXT':
      return unquoteTxt(value);
    case 'CNAME':
    case 'NS':
      return stripDot(value);
    case 'MX':
    case 'SRV':
      return mapLastField(value, stripDot);
    default:
      return value;
  }
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
  const values = (rr.ResourceRecords ?? []).map((r) => readValue(type, r.Value ?? ''));
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
  const ResourceRecords = record.values.map((v) => ({ Value: writeValue(record.type, v) }));
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
