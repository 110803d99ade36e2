// A minimal DER writer and reader for the envelopes around what @peculiar/x509 encodes (names,
// extensions): its generators sign through WebCrypto, which is async only, while node:crypto
// signs synchronously, so we assemble the signed structures ourselves.

import { PkiError } from './pem.js';

export const INTEGER = 0x02;
export const BIT_STRING = 0x03;
export const NULL = 0x05;
export const OID = 0x06;
export const UTC_TIME = 0x17;
export const GENERALIZED_TIME = 0x18;
export const SEQUENCE = 0x30;
export const SET = 0x31;

/** Context-specific constructed tag `[n]` (EXPLICIT, or IMPLICIT over a constructed type). */
export const context = (n: number): number => 0xa0 | n;

export function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  let length: number[];
  if (body.length < 0x80) {
    length = [body.length];
  } else {
    length = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) length.unshift(n % 256);
    length.unshift(0x80 | length.length);
  }
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

export function oid(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    // Base 128, the high bit set on every byte but the last.
    const groups = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) {
      groups.unshift(0x80 | (n % 128));
    }
    bytes.push(...groups);
  }
  return der(OID, Buffer.from(bytes));
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime after; whole seconds, UTC. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2030-01-02T03:04:05.678Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return der(UTC_TIME, Buffer.from(digits.slice(2), 'ascii'));
  return der(GENERALIZED_TIME, Buffer.from(digits, 'ascii'));
}

export interface Tlv {
  tag: number;
  /** The whole element, header included. */
  raw: Buffer;
  content: Buffer;
}

/**
 * The elements directly inside a constructed element (or a top-level buffer of them); with
 * `limit`, only the first ones, so a reader that wants two elements of hostile input does not
 * walk (and allocate for) a megabyte of them.
 */
export function children(content: Buffer, limit = Number.POSITIVE_INFINITY): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < content.length && out.length < limit) {
    const tag = content[offset]!;
    let length = content[offset + 1];
    let header = 2;
    if (length === undefined) throw new PkiError('truncated DER');
    if (length & 0x80) {
      const octets = length & 0x7f;
      if (octets === 0 || octets > 4) throw new PkiError('unsupported DER length');
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + (content[offset + 2 + i] ?? 0);
      header += octets;
    }
    const end = offset + header + length;
    if (end > content.length) throw new PkiError('truncated DER');
    out.push({
      tag,
      raw: content.subarray(offset, end),
      content: content.subarray(offset + header, end),
    });
    offset = end;
  }
  return out;
}

/** The one element of a buffer that must hold exactly one, checking its tag. */
export function single(buffer: Buffer, tag: number): Tlv {
  const [only, extra] = children(buffer, 2);
  if (!only || extra || only.tag !== tag) throw new PkiError('unexpected DER structure');
  return only;
}

/** The parts of a signed structure (certificate, CSR): to-be-signed, algorithm, signature. */
export function signedParts(encoded: Buffer): {
  tbs: Buffer;
  /** The AlgorithmIdentifier's content (OID, parameters). */
  algorithm: Buffer;
  signature: Buffer;
} {
  const [tbs, algorithm, signature, extra] = children(single(encoded, SEQUENCE).content, 4);
  if (
    tbs?.tag !== SEQUENCE ||
    algorithm?.tag !== SEQUENCE ||
    signature?.tag !== BIT_STRING ||
    signature.content[0] !== 0 ||
    extra
  ) {
    throw new PkiError('not a signed DER structure');
  }
  return { tbs: tbs.raw, algorithm: algorithm.content, signature: signature.content.subarray(1) };
}
