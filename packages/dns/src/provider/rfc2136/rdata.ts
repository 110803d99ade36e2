// Record values between the record model's presentation form and DNS wire RDATA.
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import { normalizeName, type RecordType } from '../../records.js';
import { encodeName, TYPE } from './wire.js';

/** A value that cannot be written as the record type says. */
export class InvalidValueError extends Error {
  override name = 'InvalidValueError';
}

/** The wire type number of each writable record type. */
export const TYPE_CODES: Record<Exclude<RecordType, 'SOA'>, number> = {
  A: TYPE.A,
  AAAA: TYPE.AAAA,
  CNAME: TYPE.CNAME,
  TXT: TYPE.TXT,
  SRV: TYPE.SRV,
  MX: TYPE.MX,
  NS: TYPE.NS,
};

export function typeCode(type: RecordType): number {
  if (type === 'SOA') throw new InvalidValueError('SOA records belong to the server');
  return TYPE_CODES[type];
}

function u16(value: string, what: string, full: string): Buffer {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 0xffff) {
    throw new InvalidValueError(`${JSON.stringify(full)}: ${what} must be 0-65535`);
  }
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function ipv6(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address;
  // An embedded IPv4 tail (::ffff:192.0.2.1) is two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  all.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/**
 * An IPv6 address in RFC 5952 canonical form (lower-case, the first longest run of two or
 * more zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d`), so values read back compare
 * equal to what was written however the server or a decoder spells them.
 */
export function canonicalIPv6(address: string): string {
  const bytes = ipv6(address);
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  }
  let best = { start: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  const head = hex.slice(0, best.start).join(':');
  const tail = hex.slice(best.start + best.length).join(':');
  return `${head}::${tail}`;
}

/** Splits text into DNS character-strings of at most 255 bytes (RFC 1035 3.3.14). */
export function txtStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [bytes];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out;
}

function name(value: string): Buffer {
  try {
    return encodeName(value === '.' ? '' : normalizeName(value));
  } catch (err) {
    throw new InvalidValueError((err as Error).message);
  }
}

/** The wire RDATA of one value in presentation form. */
export function encodeRdata(type: RecordType, value: string): Buffer {
  // No RDATA is longer: refused before splitting a megabyte of text.
  if (value.length > 0xffff) throw new InvalidValueError(`${type} value over 64 KiB`);
  const fields = value.trim().split(/\s+/);
  const expect = (n: number, form: string) => {
    if (fields.length !== n) {
      throw new InvalidValueError(`${type} value ${JSON.stringify(value)} is not "${form}"`);
    }
  };
  switch (type) {
    case 'A':
      if (!isIPv4(value))
        throw new InvalidValueError(`${JSON.stringify(value)} is not an IPv4 address`);
      return Buffer.from(value.split('.').map(Number));
    case 'AAAA':
      if (!isIPv6(value) || value.includes('%')) {
        throw new InvalidValueError(`${JSON.stringify(value)} is not an IPv6 address`);
      }
      return ipv6(value);
    case 'CNAME':
    case 'NS':
      expect(1, 'name');
      return name(fields[0]!);
    case 'MX':
      expect(2, 'preference exchange');
      return Buffer.concat([u16(fields[0]!, 'preference', value), name(fields[1]!)]);
    case 'SRV':
      expect(4, 'priority weight port target');
      return Buffer.concat([
        u16(fields[0]!, 'priority', value),
        u16(fields[1]!, 'weight', value),
        u16(fields[2]!, 'port', value),
        name(fields[3]!),
      ]);
    case 'TXT': {
      const strings = txtStrings(value);
      const out = Buffer.alloc(strings.reduce((n, s) => n + s.length + 1, 0));
      let offset = 0;
      for (const s of strings) {
        out[offset++] = s.length;
        offset += s.copy(out, offset);
      }
      if (out.length > 0xffff) throw new InvalidValueError('TXT value over 64 KiB');
      return out;
    }
    case 'SOA':
      break;
  }
  throw new InvalidValueError(`unsupported record type ${type}`);
}

/** The root is `.`; every other name lower-case without the trailing dot. */
function target(n: string): string {
  return n === '.' || n === '' ? '.' : normalizeName(n);
}

/**
 * One answer from a zone transfer in presentation form, or undefined for a type the record
 * model does not carry.
 */
export function answerValue(a: Answer): { type: RecordType; value: string } | undefined {
  switch (a.type) {
    case 'A':
      return { type: 'A', value: a.data };
    case 'AAAA':
      return { type: 'AAAA', value: canonicalIPv6(a.data) };
    case 'CNAME':
    case 'NS':
      return { type: a.type, value: target(a.data) };
    case 'MX':
      return { type: 'MX', value: `${a.data.preference ?? 0} ${target(a.data.exchange)}` };
    case 'SRV':
      return {
        type: 'SRV',
        value: `${a.data.priority ?? 0} ${a.data.weight ?? 0} ${a.data.port} ${target(a.data.target)}`,
      };
    case 'TXT': {
      // Join bytes before decoding: a split may fall inside a UTF-8 sequence.
      const parts = Array.isArray(a.data) ? a.data : [a.data];
      const bytes = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
      return { type: 'TXT', value: bytes.toString('utf8') };
    }
    default:
      return undefined;
  }
}
