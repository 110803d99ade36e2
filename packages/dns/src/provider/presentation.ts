// Values between the record model (records.ts: no trailing dots, TXT as one unquoted text)
// and zone-file presentation form, which HTTP DNS APIs speak: absolute names with a
// trailing dot, TXT as quoted strings of at most 255 bytes with escapes. RFC 1035 escapes
// a byte as `\DDD` in decimal (PowerDNS); Route53 writes octal `\ooo` instead.
import type { RecordType } from '../records.js';

/** 10: RFC 1035 `\DDD`; 8: Route53's `\ooo`. */
export type EscapeBase = 8 | 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The longest character-string in a TXT record (RFC 1035), in bytes. */
export const TXT_CHUNK_BYTES = 255;
/** Printable ASCII but `"` and `\`: one byte per character, nothing to escape. */
const PLAIN_TXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** One byte as a three-digit escape. */
export function escapeByte(byte: number, base: EscapeBase): string {
  return `\\${byte.toString(base).padStart(3, '0')}`;
}

/**
 * Reads the escapes of a presentation-form string: three digits in the base are one byte,
 * `\x` is x. Bytes are decoded as UTF-8 at the end, so a multi-byte character split across
 * escapes comes back whole.
 */
class ByteReader {
  private readonly bytes: number[] = [];
  private readonly digits: RegExp;

  constructor(private readonly base: EscapeBase) {
    this.digits = base === 8 ? /^[0-7]{3}$/ : /^[0-9]{3}$/;
  }

  push(text: string): void {
    for (const b of encoder.encode(text)) this.bytes.push(b);
  }

  /** Consumes the escape at `chars[i]` (a backslash); returns the index after it. */
  escape(chars: string[], i: number): number {
    const digits = chars.slice(i + 1, i + 4).join('');
    if (this.digits.test(digits)) {
      this.bytes.push(Number.parseInt(digits, this.base) & 0xff);
      return i + 4;
    }
    if (i + 1 < chars.length) this.push(chars[i + 1]!);
    return i + 2;
  }

  text(): string {
    return decoder.decode(new Uint8Array(this.bytes));
  }
}

/** A name's escapes read (`\052.example.com.` in octal is `*.example.com.`). */
export function unescapeText(text: string, base: EscapeBase): string {
  if (!text.includes('\\')) return text;
  const chars = Array.from(text);
  const out = new ByteReader(base);
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\') i = out.escape(chars, i);
    else out.push(chars[i++]!);
  }
  return out.text();
}

/** `name.`: a name with exactly one trailing dot. */
export function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

/** A name without its trailing dot (the root `.` stays). */
export function stripDot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * One TXT value in presentation form: quoted strings of at most 255 bytes each, separated
 * by spaces, with `"` and `\` escaped and non-printable or non-ASCII bytes as escapes.
 */
export function quoteTxt(value: string, base: EscapeBase = 10): string {
  // Most values (ownership marks, verification tokens) need no escape: quoted as they are,
  // without a string built byte by byte.
  if (PLAIN_TXT.test(value)) {
    const strings: string[] = [];
    for (let start = 0; start === 0 || start < value.length; start += TXT_CHUNK_BYTES)
      strings.push(`"${value.slice(start, start + TXT_CHUNK_BYTES)}"`);
    return strings.join(' ');
  }
  const bytes = encoder.encode(value);
  const strings: string[] = [];
  for (let start = 0; start === 0 || start < bytes.length; start += TXT_CHUNK_BYTES) {
    let s = '"';
    for (const b of bytes.subarray(start, start + TXT_CHUNK_BYTES)) {
      if (b === 0x22) s += '\\"';
      else if (b === 0x5c) s += '\\\\';
      else if (b < 0x20 || b > 0x7e) s += escapeByte(b, base);
      else s += String.fromCharCode(b);
    }
    strings.push(`${s}"`);
  }
  return strings.join(' ');
}

/**
 * A presentation-form TXT value back to one text: every character-string (quoted or not)
 * unescaped and joined, so `"abc" "def"` is `abcdef`. The 255-byte split is transport, not
 * content.
 */
export function unquoteTxt(raw: string, base: EscapeBase = 10): string {
  if (!raw.includes('\\')) return joinStrings(raw);
  const chars = Array.from(raw);
  const out = new ByteReader(base);
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

/**
 * unquoteTxt without escapes to read: the strings are the characters between the quotes
 * (or runs outside them), sliced rather than decoded byte by byte. Listings of thousands
 * of ownership TXT records go through here.
 */
function joinStrings(raw: string): string {
  let out = '';
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch === ' ' || ch === '\t') {
      i++;
    } else if (ch === '"') {
      const end = raw.indexOf('"', i + 1);
      const stop = end < 0 ? raw.length : end;
      out += raw.slice(i + 1, stop);
      i = stop + 1;
    } else {
      let end = i;
      while (end < raw.length && raw[end] !== ' ' && raw[end] !== '\t') end++;
      out += raw.slice(i, end);
      i = end;
    }
  }
  return out;
}

/** The last field of `pref exchange` / `prio weight port target` with `f` applied. */
function mapLastField(value: string, f: (name: string) => string): string {
  const fields = value.trim().split(/\s+/);
  fields[fields.length - 1] = f(fields[fields.length - 1]!);
  return fields.join(' ');
}

/** A model value in presentation form. */
export function writeValue(type: RecordType, value: string, base: EscapeBase = 10): string {
  switch (type) {
    case 'TXT':
      return quoteTxt(value, base);
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

/** A presentation-form value in the model's form (names without the trailing dot). */
export function readValue(type: RecordType, value: string, base: EscapeBase = 10): string {
  switch (type) {
    case 'TXT':
      return unquoteTxt(value, base);
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
