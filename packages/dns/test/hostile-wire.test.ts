// Property tests of the RFC2136 provider's readers of what a DNS server (or whoever answers in
// its place) sends, and of the record values users write: each input, random or adversarial
// up to 1 MiB, parses or throws the reader's typed error within 50 ms.
import { randomBytes } from 'node:crypto';
import {
  checkParser,
  figuresTable,
  mutated,
  repeated,
  repeatedBytes,
} from '@chousei/testenv/hostile';
import { encode } from 'dns-packet';
import * as fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import {
  axfrRequest,
  encodeRdata,
  errorReply,
  extractTsig,
  InvalidValueError,
  sign,
  signStream,
  TsigError,
  type TsigKey,
  TsigVerifier,
  transferEnd,
  transferRecords,
  WireError,
} from '../src/provider/rfc2136/index.js';
import {
  MAX_MESSAGE_BYTES,
  readHeader,
  readName,
  recordPositions,
} from '../src/provider/rfc2136/wire.js';
import type { RecordType } from '../src/records.js';

const RECORD_TYPES: RecordType[] = ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'NS', 'SOA'];

const key: TsigKey = {
  name: 'k',
  algorithm: 'hmac-sha256',
  secret: randomBytes(32).toString('base64'),
};
const isWire = (err: unknown) => err instanceof WireError;
const isWireOrTsig = (err: unknown) => err instanceof WireError || err instanceof TsigError;
const length = (b: { length: number }) => b.length;

/** A transfer reply of the zone: SOA, some records, SOA. */
const transfer = encode({
  type: 'response',
  id: 7,
  questions: [{ name: 'example.test', type: 'AXFR' }],
  answers: [
    {
      name: 'example.test',
      type: 'SOA',
      data: { mname: 'ns.example.test', rname: 'h.example.test', serial: 1 },
    },
    { name: 'a.example.test', type: 'A', ttl: 60, data: '192.0.2.1' },
    { name: 'c.example.test', type: 'CNAME', ttl: 60, data: 'a.example.test' },
    { name: 't.example.test', type: 'TXT', ttl: 60, data: ['x'] },
    { name: 's.example.test', type: 'SRV', ttl: 60, data: { port: 1, target: 'a.example.test' } },
    {
      name: 'example.test',
      type: 'SOA',
      data: { mname: 'ns.example.test', rname: 'h.example.test', serial: 1 },
    },
  ],
});
const request = sign(axfrRequest('example.test', 7), key);
const [signedReply] = signStream([transfer], key, request.mac);

/** A header claiming `count` records of every section, then `body`. */
const withCounts = (count: number, body: Buffer) => {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x8000, 2);
  for (const at of [4, 6, 8, 10]) header.writeUInt16BE(count, at);
  return Buffer.concat([header, body]);
};

/** Messages a hostile server sends: random, mutated, pointer loops and chains, huge counts. */
const messages = fc.oneof(
  mutated(transfer),
  mutated(signedReply!),
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
  // Every pointer to the one before (or to itself): chains and loops of compression, as
  // long as a message can be (longer ones are refused unread).
  fc
    .tuple(
      fc.integer({ min: 0, max: 0xffff }),
      repeatedBytes([Buffer.from([0xc0, 0x0c])], MAX_MESSAGE_BYTES - 12),
    )
    .map(([count, body]) => withCounts(count, body)),
  // Long runs of labels, then many records pointing into them.
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), repeatedBytes([Buffer.from([1, 0x61])], 0x7fff))
    .map(([count, labels]) =>
      withCounts(
        count,
        Buffer.concat([
          labels,
          Buffer.from([0]),
          Buffer.alloc(0x7fff - 13, Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])),
        ]),
      ),
    ),
  // Lengths beyond the buffer, label types that do not exist; up to 1 MiB, over what a
  // message can be.
  fc
    .tuple(
      fc.integer({ min: 0, max: 0xffff }),
      repeatedBytes([Buffer.from([0x3f]), Buffer.from([0x80, 0x40]), Buffer.from([0xff, 0xff])]),
    )
    .map(([count, body]) => withCounts(count, body)),
);

describe('DNS wire readers on hostile input', () => {
  afterAll(() => console.log(`hostile-input figures (dns)\n${figuresTable()}`));

  it('reads headers, names and record positions or throws WireError', () => {
    checkParser({
      parser: 'readHeader/readName/recordPositions',
      inputs: messages,
      run: (msg) => {
        readHeader(msg);
        readName(msg, 12);
        return recordPositions(msg);
      },
      typed: isWire,
      size: length,
    });
  });

  it('reads zone transfers or throws WireError', () => {
    checkParser({
      parser: 'transferEnd/transferRecords',
      inputs: messages,
      run: (msg) => {
        transferEnd()(msg, 0);
        return transferRecords('example.test', [msg], RECORD_TYPES);
      },
      typed: isWire,
      size: length,
    });
  });

  it('splits off and verifies TSIG or throws TsigError/WireError', () => {
    checkParser({
      parser: 'extractTsig/TsigVerifier',
      inputs: fc.oneof(messages, mutated(errorReply(request.wire, 17))),
      run: (msg) => {
        extractTsig(msg);
        const verifier = new TsigVerifier(key, request.mac);
        verifier.verify(msg);
        verifier.finish();
      },
      typed: isWireOrTsig,
      size: length,
    });
  });

  it('encodes record values users write or throws InvalidValueError', () => {
    checkParser({
      parser: 'encodeRdata',
      inputs: fc.tuple(
        fc.constantFrom(...RECORD_TYPES),
        fc.oneof(
          fc.string({ maxLength: 300 }),
          repeated(['a', '.', ' ', '10 ', ':', '::', '1.2.3.4', '\\t', '"', '65536 ']),
        ),
      ),
      run: ([type, value]) => encodeRdata(type, value),
      typed: (err) => err instanceof InvalidValueError,
      size: ([, value]) => value.length,
    });
  });
});
