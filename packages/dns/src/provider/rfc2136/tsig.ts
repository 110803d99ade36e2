// TSIG (RFC 8945): HMAC signatures on DNS messages with a shared secret. The client signs
// each request and verifies every reply, so neither a forged update nor a forged zone
// transfer goes unnoticed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  CLASS,
  encodeName,
  rcodeName,
  readHeader,
  readName,
  recordPositions,
  TYPE,
  WireError,
} from './wire.js';

/** Each algorithm's hash, and its name on the wire where that differs (RFC 8945 6). */
const ALGORITHMS = {
  'hmac-md5': { hash: 'md5', wire: 'hmac-md5.sig-alg.reg.int' },
  'hmac-sha1': { hash: 'sha1', wire: 'hmac-sha1' },
  'hmac-sha224': { hash: 'sha224', wire: 'hmac-sha224' },
  'hmac-sha256': { hash: 'sha256', wire: 'hmac-sha256' },
  'hmac-sha384': { hash: 'sha384', wire: 'hmac-sha384' },
  'hmac-sha512': { hash: 'sha512', wire: 'hmac-sha512' },
} as const;

export type TsigAlgorithm = keyof typeof ALGORITHMS;

export const TSIG_ALGORITHMS = Object.keys(ALGORITHMS) as TsigAlgorithm[];

/**
 * Why an algorithm should not be used any more, or undefined: RFC 8945 6 deprecates MD5 and
 * recommends against SHA-1 and SHA-224. They are accepted for the servers and keys that
 * external-dns and cert-manager users have (cert-manager's default is MD5), with a warning.
 */
export function weakTsigAlgorithm(algorithm: TsigAlgorithm): string | undefined {
  const { hash } = ALGORITHMS[algorithm];
  if (hash === 'md5') return `${algorithm} is deprecated (RFC 8945 6): MD5 is broken`;
  if (hash === 'sha1' || hash === 'sha224')
    return `${algorithm} is not recommended (RFC 8945 6): use hmac-sha256 or stronger`;
  return undefined;
}

export interface TsigKey {
  /** Key name as configured on the server (`key "NAME" { ... }`). */
  name: string;
  algorithm: TsigAlgorithm;
  /** The shared secret, base64. */
  secret: string;
}

/**
 * Why `secret` cannot be a TSIG secret, or undefined when it can: base64 of at least one
 * byte. A blank secret must never mean "unsigned": callers refuse it, naming their field.
 */
export function tsigSecretProblem(secret: string): string | undefined {
  if (secret.trim() === '') return 'is blank (unsigned updates need no key at all)';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) return 'is not base64';
  return undefined;
}

/** Seconds of clock difference allowed between signer and verifier (RFC 8945 suggests 300). */
export const DEFAULT_FUDGE = 300;

/** An RFC 8945 5.3.1 bound: at most 99 unsigned messages between two signed ones. */
const MAX_UNSIGNED_RUN = 99;

const ERROR_NAMES: Record<number, string> = {
  0: 'NOERROR',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

export function tsigErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `TSIGERROR${code}`;
}

/**
 * A TSIG failure. `code` is the TSIG error name (BADSIG, BADKEY, BADTIME, BADTRUNC) or
 * UNSIGNED / FORMERR for replies that carry no usable signature; `byServer` says whether the
 * server reported it (it rejected our signature) or we found it in its reply.
 */
export class TsigError extends Error {
  override name = 'TsigError';
  constructor(
    message: string,
    readonly code: string,
    readonly byServer: boolean,
  ) {
    super(message);
  }
}

/** The fields of a TSIG record (RFC 8945 4.2). */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch (48 bits on the wire). */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

export interface SignOptions {
  /** Signing time in seconds since the epoch; default now. */
  now?: number;
  fudge?: number;
  /** The request's MAC: given when signing a reply to it. */
  requestMac?: Buffer;
  /** A TSIG error to report (servers only). */
  error?: number;
  otherData?: Buffer;
}

export interface Signed {
  /** The message with the TSIG record appended and ARCOUNT raised. */
  wire: Buffer;
  mac: Buffer;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function hashLength(algorithm: TsigAlgorithm): number {
  return createHmac(ALGORITHMS[algorithm].hash, Buffer.alloc(1)).digest().length;
}

/** The algorithm's name in TSIG records. */
function wireName(algorithm: TsigAlgorithm): string {
  return ALGORITHMS[algorithm].wire;
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(ALGORITHMS[key.algorithm].hash, Buffer.from(key.secret, 'base64'));
  for (const p of parts) h.update(p);
  return h.digest();
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function timers(timeSigned: number, fudge: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUIntBE(timeSigned, 0, 6);
  b.writeUInt16BE(fudge, 6);
  return b;
}

/** The TSIG variables covered by the first (or only) MAC of an exchange (RFC 8945 4.3.3). */
function variables(rec: TsigRecord): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt16BE(rec.error, 0);
  fixed.writeUInt16BE(rec.otherData.length, 2);
  return Buffer.concat([
    encodeName(rec.keyName),
    u16(CLASS.ANY),
    Buffer.alloc(4), // TTL 0
    encodeName(rec.algorithm),
    timers(rec.timeSigned, rec.fudge),
    fixed,
    rec.otherData,
  ]);
}

/** A MAC prefixed with its length, as the next MAC of an exchange covers it. */
function macWithLength(mac: Buffer): Buffer {
  return Buffer.concat([u16(mac.length), mac]);
}

function encodeRecord(rec: TsigRecord): Buffer {
  const rdata = Buffer.concat([
    encodeName(rec.algorithm),
    timers(rec.timeSigned, rec.fudge),
    macWithLength(rec.mac),
    u16(rec.originalId),
    u16(rec.error),
    macWithLength(rec.otherData),
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE.TSIG, 0);
  head.writeUInt16BE(CLASS.ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  // Not compressed: a verifier hashes the name in canonical form anyway.
  return Buffer.concat([encodeName(rec.keyName), head, rdata]);
}

function appendRecord(message: Buffer, rec: TsigRecord): Buffer {
  const wire = Buffer.concat([message, encodeRecord(rec)]);
  wire.writeUInt16BE(readHeader(message).arcount + 1, 10);
  return wire;
}

/**
 * Signs a request, or with `requestMac` a reply (or the first message of a reply stream).
 * The MAC covers the message as it is, then the TSIG variables.
 */
export function sign(message: Buffer, key: TsigKey, opts: SignOptions = {}): Signed {
  const rec: TsigRecord = {
    keyName: key.name,
    algorithm: wireName(key.algorithm),
    timeSigned: opts.now ?? nowSeconds(),
    fudge: opts.fudge ?? DEFAULT_FUDGE,
    mac: Buffer.alloc(0),
    originalId: readHeader(message).id,
    error: opts.error ?? 0,
    otherData: opts.otherData ?? Buffer.alloc(0),
  };
  const prefix = opts.requestMac ? [macWithLength(opts.requestMac)] : [];
  rec.mac = hmac(key, [...prefix, message, variables(rec)]);
  return { wire: appendRecord(message, rec), mac: rec.mac };
}

/**
 * Signs a multi-message reply as a server would (RFC 8945 5.3.1): the first message fully,
 * later ones over the prior MAC, the messages since, and the timers; only every `every`th
 * message and the last carry a signature. For tests and fakes.
 */
export function signStream(
  messages: Buffer[],
  key: TsigKey,
  requestMac: Buffer,
  opts: { every?: number; now?: number; fudge?: number } = {},
): Buffer[] {
  const every = opts.every ?? 1;
  const now = opts.now ?? nowSeconds();
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  let prior = requestMac;
  let pending: Buffer[] = [];
  return messages.map((message, i) => {
    if (i === 0) {
      const first = sign(message, key, { requestMac, now, fudge });
      prior = first.mac;
      return first.wire;
    }
    if (i % every !== 0 && i !== messages.length - 1) {
      pending.push(message);
      return message;
    }
    const rec: TsigRecord = {
      keyName: key.name,
      algorithm: wireName(key.algorithm),
      timeSigned: now,
      fudge,
      mac: Buffer.alloc(0),
      originalId: readHeader(message).id,
      error: 0,
      otherData: Buffer.alloc(0),
    };
    rec.mac = hmac(key, [macWithLength(prior), ...pending, message, timers(now, fudge)]);
    prior = rec.mac;
    pending = [];
    return appendRecord(message, rec);
  });
}

/**
 * The reply a server sends when it cannot verify `request` (RFC 8945 5.3.2): the request
 * turned into a NOTAUTH response, its TSIG record echoed with `error` and an empty MAC (or
 * `mac`, to look signed). For tests and fakes: what a forger sends, too.
 */
export function errorReply(request: Buffer, error: number, mac = Buffer.alloc(0)): Buffer {
  const signed = extractTsig(request);
  if (!signed) throw new TsigError('the request is not TSIG-signed', 'UNSIGNED', false);
  const { body, record } = signed;
  // QR set, RCODE NOTAUTH (9).
  body.writeUInt16BE(((body.readUInt16BE(2) | 0x8000) & 0xfff0) | 9, 2);
  return appendRecord(body, { ...record, mac, error, otherData: Buffer.alloc(0) });
}

/**
 * Splits off a message's TSIG record (the last additional record, RFC 8945 5.1). Returns
 * the message as the signer hashed it (without the record, ARCOUNT lowered, the original
 * ID restored) and the record, or undefined for an unsigned message.
 */
export function extractTsig(wire: Buffer): { body: Buffer; record: TsigRecord } | undefined {
  const positions = recordPositions(wire);
  const last = positions.at(-1);
  if (last?.section !== 'additional' || last.type !== TYPE.TSIG) {
    if (positions.some((p) => p.type === TYPE.TSIG)) {
      throw new TsigError('TSIG record is not the last record of the message', 'FORMERR', false);
    }
    return undefined;
  }
  const keyName = readName(wire, last.start).name;
  const alg = readName(wire, last.rdataStart);
  let offset = alg.next;
  const need = (n: number) => {
    if (offset + n > last.end) throw new WireError('TSIG record data is truncated');
  };
  need(10);
  const timeSigned = wire.readUIntBE(offset, 6);
  const fudge = wire.readUInt16BE(offset + 6);
  const macSize = wire.readUInt16BE(offset + 8);
  offset += 10;
  need(macSize + 6);
  const mac = Buffer.from(wire.subarray(offset, offset + macSize));
  offset += macSize;
  const originalId = wire.readUInt16BE(offset);
  const error = wire.readUInt16BE(offset + 2);
  const otherLen = wire.readUInt16BE(offset + 4);
  offset += 6;
  need(otherLen);
  const otherData = Buffer.from(wire.subarray(offset, offset + otherLen));

  const body = Buffer.from(wire.subarray(0, last.start));
  body.writeUInt16BE(originalId, 0);
  body.writeUInt16BE(readHeader(wire).arcount - 1, 10);
  return {
    body,
    record: {
      keyName,
      algorithm: alg.name,
      timeSigned,
      fudge,
      mac,
      originalId,
      error,
      otherData,
    },
  };
}

function serverErrorMessage(key: TsigKey, error: number): string {
  const name = tsigErrorName(error);
  const why: Record<string, string> = {
    BADSIG: 'the signature did not verify: is the secret right?',
    BADKEY: `the server does not know key "${key.name}" with ${key.algorithm}`,
    BADTIME: 'the clocks of client and server differ by more than the fudge',
    BADTRUNC: 'the MAC was truncated too much',
  };
  return `TSIG ${name}: the server rejected our request signed with key "${key.name}" (${why[name] ?? 'TSIG error'})`;
}

/**
 * Verifies the replies to one signed request, one message after the other (a zone transfer
 * is a stream of them), then `finish()` checks the stream ended on a signed message.
 * Throws TsigError on the first message that fails.
 */
export class TsigVerifier {
  private prior: Buffer;
  private pending: Buffer[] = [];
  private first = true;
  private lastSigned = false;
  private readonly hashLen: number;

  constructor(
    private readonly key: TsigKey,
    requestMac: Buffer,
    private readonly now: () => number = nowSeconds,
  ) {
    this.prior = requestMac;
    this.hashLen = hashLength(key.algorithm);
  }

  verify(wire: Buffer): void {
    const signed = extractTsig(wire);
    if (!signed) {
      const rcode = readHeader(wire).rcode;
      if (this.first) {
        throw new TsigError(
          `the reply is not TSIG-signed (rcode ${rcodeName(rcode)}): the server did not accept key "${this.key.name}" or is not who we asked`,
          'UNSIGNED',
          false,
        );
      }
      if (this.pending.length >= MAX_UNSIGNED_RUN) {
        throw new TsigError(
          `over ${MAX_UNSIGNED_RUN} unsigned messages in a row`,
          'UNSIGNED',
          false,
        );
      }
      this.pending.push(wire);
      this.lastSigned = false;
      return;
    }
    const { body, record } = signed;
    // A TSIG error is the server's word only once its MAC verifies. RFC 8945 5.3.2 has a
    // server answer BADKEY and BADSIG unsigned (empty MAC), so those never verify: anyone who
    // can guess a port and ID can send one. They are reported as unverified (byServer
    // false), which callers treat as a corrupt reply (see DnsTransport), not as a verdict.
    if (record.error !== 0 && record.mac.length === 0) {
      throw new TsigError(
        `unverified reply: ${serverErrorMessage(this.key, record.error)}, in an unsigned TSIG record (RFC 8945 5.3.2) that may as well be forged`,
        tsigErrorName(record.error),
        false,
      );
    }
    const claims = record.error === 0 ? '' : ` (it claims TSIG ${tsigErrorName(record.error)})`;
    if (record.keyName !== this.key.name.toLowerCase().replace(/\.$/, '')) {
      throw new TsigError(
        `reply signed with key "${record.keyName}", not "${this.key.name}"${claims}`,
        'BADKEY',
        false,
      );
    }
    if (record.algorithm !== wireName(this.key.algorithm)) {
      throw new TsigError(
        `reply signed with ${record.algorithm}, not ${this.key.algorithm}${claims}`,
        'BADKEY',
        false,
      );
    }
    // RFC 8945 5.2.2.1: a truncated MAC keeps at least half the hash and 10 bytes.
    const minLen = Math.max(10, Math.ceil(this.hashLen / 2));
    if (record.mac.length < minLen || record.mac.length > this.hashLen) {
      throw new TsigError(`reply MAC of ${record.mac.length} bytes${claims}`, 'BADTRUNC', false);
    }
    const covered = this.first
      ? [macWithLength(this.prior), ...this.pending, body, variables(record)]
      : [macWithLength(this.prior), ...this.pending, body, timers(record.timeSigned, record.fudge)];
    const expected = hmac(this.key, covered).subarray(0, record.mac.length);
    if (!timingSafeEqual(expected, record.mac)) {
      throw new TsigError(`the reply signature does not verify${claims}`, 'BADSIG', false);
    }
    // Verified: the server itself reports a problem with our request (BADTIME, signed).
    if (record.error !== 0) {
      throw new TsigError(
        serverErrorMessage(this.key, record.error),
        tsigErrorName(record.error),
        true,
      );
    }
    // Checked after the MAC so a forged time cannot pass as a mere clock problem.
    if (Math.abs(this.now() - record.timeSigned) > record.fudge) {
      throw new TsigError(
        `reply signed at ${record.timeSigned}, more than ${record.fudge}s from our clock`,
        'BADTIME',
        false,
      );
    }
    this.prior = record.mac;
    this.pending = [];
    this.first = false;
    this.lastSigned = true;
  }

  /** Throws unless the last message verified was signed. */
  finish(): void {
    if (!this.lastSigned) {
      throw new TsigError('the last message of the reply is not signed', 'UNSIGNED', false);
    }
  }
}

/** Verifies a single-message reply to a request whose MAC was `requestMac`. */
export function verifyReply(
  wire: Buffer,
  key: TsigKey,
  requestMac: Buffer,
  now?: () => number,
): void {
  const v = new TsigVerifier(key, requestMac, now);
  v.verify(wire);
  v.finish();
}
