// Reading a whole zone with AXFR (RFC 5936): one query, a stream of replies over TCP that
// starts and ends with the zone's SOA.
import { decode } from 'dns-packet';
import { normalizeName, type RecordSet, type RecordType, recordKey } from '../../records.js';
import { answerValue } from './rdata.js';
import {
  CLASS,
  encodeMessage,
  OPCODE,
  readHeader,
  recordPositions,
  TYPE,
  WireError,
} from './wire.js';

export function axfrRequest(zone: string, id: number): Buffer {
  return encodeMessage({
    id,
    opcode: OPCODE.QUERY,
    question: { name: zone, type: TYPE.AXFR, class: CLASS.IN },
  });
}

/**
 * Says when a transfer stream has ended: on the message that carries the closing SOA, or
 * on the first reply if it is an error. Index 0 starts a new stream (a retry).
 */
export function transferEnd(): (reply: Buffer, index: number) => boolean {
  let soas = 0;
  return (reply, index) => {
    if (index === 0) soas = 0;
    const header = readHeader(reply);
    if (header.rcode !== 0 || (index === 0 && header.ancount === 0)) return true;
    soas += recordPositions(reply).filter(
      (p) => p.section === 'answer' && p.type === TYPE.SOA,
    ).length;
    return soas >= 2;
  };
}

/** dns-packet's decoding, its errors (RangeError, TypeError...) as WireError. */
function decodeMessage(reply: Buffer): ReturnType<typeof decode> {
  try {
    return decode(reply);
  } catch (err) {
    throw new WireError(`malformed transfer message: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The record sets of a complete transfer, in the record model: the SOA left out, several
 * records of one name and type collected into one set (with the lowest TTL among them), and
 * only the types asked for.
 */
export function transferRecords(
  zone: string,
  replies: Buffer[],
  types: readonly RecordType[],
): RecordSet[] {
  const sets = new Map<string, RecordSet>();
  let first = true;
  for (const reply of replies) {
    for (const a of decodeMessage(reply).answers ?? []) {
      if (first) {
        if (a.type !== 'SOA' || normalizeName(a.name) !== zone) {
          throw new WireError(`transfer of ${zone} does not start with its SOA`);
        }
        first = false;
      }
      const v = answerValue(a);
      if (!v || !types.includes(v.type) || ('class' in a && a.class !== 'IN')) continue;
      const name = normalizeName(a.name);
      const ttl = 'ttl' in a ? (a.ttl ?? 0) : 0;
      const key = recordKey({ name, type: v.type });
      const set = sets.get(key);
      if (!set) {
        sets.set(key, { name, type: v.type, ttl, values: [v.value] });
      } else {
        set.ttl = Math.min(set.ttl, ttl);
        if (!set.values.includes(v.value)) set.values.push(v.value);
      }
    }
  }
  if (first) throw new WireError(`transfer of ${zone} is empty`);
  return [...sets.values()];
}
