// The few pieces of the DNS wire format (RFC 1035) the RFC2136 provider needs beyond what
// dns-packet offers: UPDATE sections use classes NONE/ANY and empty RDATA, which dns-packet
// cannot encode, and TSIG needs the byte offsets of records, which it does not expose.

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  TSIG: 250,
  AXFR: 252,
  ANY: 255,
} as const;

export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;

export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;

const RCODES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
];

export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `RCODE${rcode}`;
}

/** A malformed or unexpected message. */
export class WireError extends Error {
  override name = 'WireError';
}

/** One resource record with its RDATA already in wire form. */
export interface WireRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  rdata: Buffer;
}

export interface WireMessage {
  id: number;
  opcode: number;
  /** The question (QUERY) or zone (UPDATE) section: always exactly one entry here. */
  question: { name: string; type: number; class: number };
  /** Answer / prerequisite section. */
  answers?: WireRecord[];
  /** Authority / update section. */
  authorities?: WireRecord[];
}

/**
 * A name in uncompressed canonical wire form (lower-case), as TSIG and RDATA need it.
 * `''` and `'.'` are the root.
 */
export function encodeName(name: string): Buffer {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (n === '') return Buffer.from([0]);
  const labels = n.split('.').map((l) => Buffer.from(l, 'utf8'));
  const out = Buffer.alloc(labels.reduce((sum, l) => sum + l.length + 1, 1));
  let offset = 0;
  for (const label of labels) {
    if (label.length === 0 || label.length > 63) {
      throw new WireError(`invalid name ${JSON.stringify(name)}: labels are 1 to 63 bytes`);
    }
    out[offset++] = label.length;
    offset += label.copy(out, offset);
  }
  if (out.length > 255) throw new WireError(`invalid name ${JSON.stringify(name)}: over 255 bytes`);
  return out;
}

/**
 * Encodes a message. Owner names are compressed (updates repeat the same names a lot);
 * RDATA is written as given.
 */
export function encodeMessage(m: WireMessage): Buffer {
  const answers = m.answers ?? [];
  const authorities = m.authorities ?? [];
  const records = [...answers, ...authorities];
  // Upper bound: every name uncompressed.
  const size =
    12 +
    encodeName(m.question.name).length +
    4 +
    records.reduce((sum, r) => sum + encodeName(r.name).length + 10 + r.rdata.length, 0);
  const buf = Buffer.alloc(size);
  buf.writeUInt16BE(m.id, 0);
  buf.writeUInt16BE((m.opcode & 0xf) << 11, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt16BE(answers.length, 6);
  buf.writeUInt16BE(authorities.length, 8);
  buf.writeUInt16BE(0, 10);

  const seen = new Map<string, number>();
  let offset = 12;
  const writeName = (name: string) => {
    const labels = name.toLowerCase().replace(/\.$/, '').split('.').filter(Boolean);
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.');
      const pointer = seen.get(suffix);
      if (pointer !== undefined) {
        offset = buf.writeUInt16BE(0xc000 | pointer, offset);
        return;
      }
      if (offset < 0x3fff) seen.set(suffix, offset);
      const label = Buffer.from(labels[i]!, 'utf8');
      buf[offset++] = label.length;
      offset += label.copy(buf, offset);
    }
    buf[offset++] = 0;
  };

  encodeName(m.question.name); // validates
  writeName(m.question.name);
  offset = buf.writeUInt16BE(m.question.type, offset);
  offset = buf.writeUInt16BE(m.question.class, offset);
  for (const r of records) {
    writeName(r.name);
    offset = buf.writeUInt16BE(r.type, offset);
    offset = buf.writeUInt16BE(r.class, offset);
    offset = buf.writeUInt32BE(r.ttl, offset);
    offset = buf.writeUInt16BE(r.rdata.length, offset);
    offset += r.rdata.copy(buf, offset);
  }
  if (offset > MAX_MESSAGE_BYTES) throw new WireError(tooLong(offset));
  return buf.subarray(0, offset);
}

/** TCP frames a message with a 16-bit length (RFC 1035 4.2.2): no message is longer. */
export const MAX_MESSAGE_BYTES = 0xffff;
export const tooLong = (bytes: number) =>
  `message of ${bytes} bytes is over the ${MAX_MESSAGE_BYTES} a DNS message can carry`;

export interface Header {
  id: number;
  response: boolean;
  opcode: number;
  truncated: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

export function readHeader(buf: Buffer): Header {
  if (buf.length < 12)
    throw new WireError(`message of ${buf.length} bytes is shorter than a header`);
  if (buf.length > MAX_MESSAGE_BYTES) throw new WireError(tooLong(buf.length));
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    qdcount: buf.readUInt16BE(4),
    ancount: buf.readUInt16BE(6),
    nscount: buf.readUInt16BE(8),
    arcount: buf.readUInt16BE(10),
  };
}

/** RFC 1035 3.1: a name is at most 255 bytes on the wire. */
const MAX_NAME_BYTES = 255;
/** Pointers followed for one name: each must lead to at least one label (or the end). */
const MAX_POINTERS = MAX_NAME_BYTES / 2;

/**
 * Reads a possibly compressed name; returns it lower-case without trailing dot. Each pointer
 * must go backwards, and a name is refused past 255 bytes or 127 pointers: reading one costs
 * a bounded time however a hostile message chains its pointers and labels.
 */
export function readName(buf: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let offset = start;
  let next = -1;
  let bytes = 1;
  let pointers = 0;
  for (;;) {
    if (offset >= buf.length) throw new WireError('name runs past the message');
    const len = buf[offset]!;
    if (len === 0) {
      if (next < 0) next = offset + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (offset + 1 >= buf.length) throw new WireError('name pointer runs past the message');
      const target = buf.readUInt16BE(offset) & 0x3fff;
      if (target >= offset) throw new WireError('name pointer points forward');
      if (++pointers > MAX_POINTERS) throw new WireError('name has too many pointers');
      if (next < 0) next = offset + 2;
      offset = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new WireError(`unsupported label type 0x${len.toString(16)}`);
    if (offset + 1 + len > buf.length) throw new WireError('label runs past the message');
    bytes += 1 + len;
    if (bytes > MAX_NAME_BYTES) throw new WireError(`name longer than ${MAX_NAME_BYTES} bytes`);
    labels.push(buf.toString('utf8', offset + 1, offset + 1 + len).toLowerCase());
    offset += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Where one record sits in a message. */
export interface RecordPosition {
  section: 'answer' | 'authority' | 'additional';
  /** Offset of the owner name: the record spans `start` to `end`. */
  start: number;
  end: number;
  type: number;
  class: number;
  rdataStart: number;
}

/** The position of every record after the question section. */
export function recordPositions(buf: Buffer): RecordPosition[] {
  const h = readHeader(buf);
  let offset = 12;
  for (let i = 0; i < h.qdcount; i++) offset = readName(buf, offset).next + 4;
  const sections: Array<[RecordPosition['section'], number]> = [
    ['answer', h.ancount],
    ['authority', h.nscount],
    ['additional', h.arcount],
  ];
  const out: RecordPosition[] = [];
  for (const [section, count] of sections) {
    for (let i = 0; i < count; i++) {
      const start = offset;
      offset = readName(buf, offset).next;
      if (offset + 10 > buf.length) throw new WireError('record header runs past the message');
      const type = buf.readUInt16BE(offset);
      const klass = buf.readUInt16BE(offset + 2);
      const rdlength = buf.readUInt16BE(offset + 8);
      const rdataStart = offset + 10;
      offset = rdataStart + rdlength;
      if (offset > buf.length) throw new WireError('record data runs past the message');
      out.push({ section, start, end: offset, type, class: klass, rdataStart });
    }
  }
  return out;
}
