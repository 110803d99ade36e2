// RFC 2136 UPDATE messages for one group of changes. Prerequisites make the server check
// what the change assumes (the RRset absent, or present with exactly the old values), so
// the whole group is refused, visibly, instead of applied half or silently ignored: BIND
// for one drops an add that would put data next to a CNAME without saying so.
import { type Change, inZone, type RecordSet, recordKey } from '../../records.js';
import type { ValueEdit } from '../provider.js';
import { encodeRdata, InvalidValueError, typeCode } from './rdata.js';
import { CLASS, encodeMessage, encodeName, OPCODE, TYPE, type WireRecord } from './wire.js';

/** A change that cannot be expressed as an update: a bad value, a name outside the zone. */
export class InvalidChangeError extends Error {
  override name = 'InvalidChangeError';
}

export interface UpdateOptions {
  /** TTLs below this are raised to it. */
  minTTL?: number;
}

/** Leaves room for the TSIG record (its MAC is up to 64 bytes) in a TCP message. */
const MAX_UNSIGNED_MESSAGE = 65535 - 512;

const MAX_TTL = 2 ** 31 - 1;

function check(zone: string, r: RecordSet): void {
  const key = recordKey(r);
  if (!inZone(r.name, zone)) throw new InvalidChangeError(`${key} is not in zone ${zone}`);
  try {
    encodeName(r.name);
  } catch (err) {
    throw new InvalidChangeError(`${key}: ${(err as Error).message}`);
  }
  if (r.alias) throw new InvalidChangeError(`${key}: alias records are not DNS records`);
  if (r.type === 'SOA') throw new InvalidChangeError(`${key}: the SOA belongs to the server`);
  if (r.values.length === 0) throw new InvalidChangeError(`${key} has no values`);
  if (r.type === 'CNAME' && r.values.length > 1) {
    throw new InvalidChangeError(`${key}: one CNAME target only`);
  }
  if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > MAX_TTL) {
    throw new InvalidChangeError(`${key}: TTL ${r.ttl} out of range`);
  }
}

/** RRs carrying each value of a record set. */
function valueRecords(r: RecordSet, klass: number, ttl: number): WireRecord[] {
  const type = typeCode(r.type);
  return r.values.map((v) => {
    try {
      return { name: r.name, type, class: klass, ttl, rdata: encodeRdata(r.type, v) };
    } catch (err) {
      if (err instanceof InvalidValueError)
        throw new InvalidChangeError(`${recordKey(r)}: ${err.message}`);
      throw err;
    }
  });
}

/** An RR without data: with class NONE "RRset does not exist", with ANY "delete RRset". */
function empty(name: string, type: number, klass: number): WireRecord {
  return { name, type, class: klass, ttl: 0, rdata: Buffer.alloc(0) };
}

function message(zone: string, id: number, prereqs: WireRecord[], updates: WireRecord[]): Buffer {
  const wire = encodeMessage({
    id,
    opcode: OPCODE.UPDATE,
    question: { name: zone, type: TYPE.SOA, class: CLASS.IN },
    answers: prereqs,
    authorities: updates,
  });
  if (wire.length > MAX_UNSIGNED_MESSAGE) {
    throw new InvalidChangeError(
      `the group needs ${wire.length} bytes, more than one UPDATE holds`,
    );
  }
  return wire;
}

/**
 * One UPDATE applying `changes` atomically. Prerequisites describe the zone before the
 * group, so a record set the group already touched gets none from later changes (the
 * server checks them all before it applies anything).
 */
export function buildUpdate(
  zone: string,
  changes: Change[],
  id: number,
  opts: UpdateOptions = {},
): Buffer {
  const prereqs: WireRecord[] = [];
  const updates: WireRecord[] = [];
  const touchedSets = new Set<string>();
  const touchedNames = new Set<string>();
  const touch = (r: RecordSet) => {
    touchedSets.add(recordKey(r));
    touchedNames.add(r.name);
  };

  const remove = (r: RecordSet) => {
    // Value-dependent "RRset exists": the set is exactly these values (TTL 0, RFC 2136 2.4.2).
    if (!touchedSets.has(recordKey(r))) prereqs.push(...valueRecords(r, CLASS.IN, 0));
    updates.push(empty(r.name, typeCode(r.type), CLASS.ANY));
    touch(r);
  };
  const add = (r: RecordSet) => {
    if (r.type === 'CNAME') {
      // "Name is not in use": a CNAME must stand alone.
      if (!touchedNames.has(r.name)) prereqs.push(empty(r.name, TYPE.ANY, CLASS.NONE));
    } else {
      if (!touchedSets.has(recordKey(r))) prereqs.push(empty(r.name, typeCode(r.type), CLASS.NONE));
      // No CNAME there, or the server would ignore the add and still answer NOERROR.
      if (!touchedSets.has(recordKey({ name: r.name, type: 'CNAME' }))) {
        prereqs.push(empty(r.name, TYPE.CNAME, CLASS.NONE));
      }
    }
    const ttl = Math.max(r.ttl, opts.minTTL ?? 0);
    updates.push(...valueRecords(r, CLASS.IN, ttl));
    touch(r);
  };

  for (const c of changes) {
    check(zone, c.record);
    if (c.action === 'create') {
      add(c.record);
    } else if (c.action === 'delete') {
      remove(c.record);
    } else {
      check(zone, c.old);
      remove(c.old);
      add(c.record);
    }
  }
  return message(zone, id, prereqs, updates);
}

/**
 * An UPDATE with prerequisites only, stating the zone as it is after `changes`: the
 * server answers NOERROR if they are in place, changing nothing. Used when a retried
 * update is refused, to tell whether an earlier attempt got through after all. The TTL is
 * not checked (prerequisites cannot).
 */
export function buildPostcheck(zone: string, changes: Change[], id: number): Buffer {
  const after = new Map<string, { record: RecordSet; present: boolean }>();
  for (const c of changes) {
    if (c.action === 'update') after.set(recordKey(c.old), { record: c.old, present: false });
    after.set(recordKey(c.record), { record: c.record, present: c.action !== 'delete' });
  }
  const prereqs = [...after.values()].flatMap(({ record, present }) =>
    present
      ? valueRecords(record, CLASS.IN, 0)
      : [empty(record.name, typeCode(record.type), CLASS.NONE)],
  );
  return message(zone, id, prereqs, []);
}

/**
 * One UPDATE adding one RR to a set (RFC 2136 2.5.1) or deleting one (2.5.4), the set's other
 * values as they are: no read first, and two writers of one set never refuse each other. An
 * add also states that no CNAME is at the name (BIND would drop the add and say NOERROR).
 */
export function buildValueEdit(
  zone: string,
  edit: ValueEdit,
  id: number,
  opts: UpdateOptions = {},
): Buffer {
  const record: RecordSet = {
    name: edit.name,
    type: edit.type,
    ttl: edit.ttl,
    values: [edit.value],
  };
  check(zone, record);
  if (edit.op === 'remove') return message(zone, id, [], valueRecords(record, CLASS.NONE, 0));
  const prereqs = edit.type === 'CNAME' ? [] : [empty(edit.name, TYPE.CNAME, CLASS.NONE)];
  return message(
    zone,
    id,
    prereqs,
    valueRecords(record, CLASS.IN, Math.max(edit.ttl, opts.minTTL ?? 0)),
  );
}
