// The rules a strict DNS service applies to a change (Route53 does, RFC2136 prerequisites
// can): a create must not exist, a delete or update must match what is there, a CNAME
// stands alone. Services that overwrite silently (PowerDNS's REPLACE, many webhook
// providers) get them checked here, so every provider refuses the same changes.
import {
  type Change,
  inZone,
  type RecordSet,
  type RecordType,
  recordKey,
  sameRecord,
  type Zone,
} from '../records.js';
import { type ApplyResult, changeGroups, ProviderError } from './provider.js';

/**
 * A zone's record sets by key, with the types held at each name, and an undo log: writes
 * after `mark()` can be rolled back, so a group applies all or nothing.
 */
export class RecordTable {
  private readonly byKey = new Map<string, RecordSet>();
  private readonly types = new Map<string, Set<RecordType>>();
  private readonly undo: Array<[key: string, previous: RecordSet | undefined]> = [];
  private marks = 0;

  constructor(records: Iterable<RecordSet> = []) {
    for (const r of records) this.put(r);
  }

  get(key: string): RecordSet | undefined {
    return this.byKey.get(key);
  }

  /** The types with a record set at `name`. */
  typesAt(name: string): RecordType[] {
    return [...(this.types.get(name) ?? [])];
  }

  records(): RecordSet[] {
    return [...this.byKey.values()];
  }

  get size(): number {
    return this.byKey.size;
  }

  put(record: RecordSet): void {
    this.logWrite(recordKey(record));
    this.write(record);
  }

  remove(key: string): void {
    if (!this.byKey.has(key)) return;
    this.logWrite(key);
    this.erase(key);
  }

  /** Starts logging writes; returns the point `rollback` returns to. */
  mark(): number {
    this.marks++;
    return this.undo.length;
  }

  /** Keeps the writes since `mark`. */
  commit(): void {
    this.release();
  }

  /** Undoes the writes since `mark`. */
  rollback(mark: number): void {
    for (const [key, previous] of this.undo.splice(mark).reverse()) {
      if (previous) this.write(previous);
      else this.erase(key);
    }
    this.release();
  }

  private release(): void {
    if (--this.marks === 0) this.undo.length = 0;
  }

  private logWrite(key: string): void {
    if (this.marks > 0) this.undo.push([key, this.byKey.get(key)]);
  }

  private write(record: RecordSet): void {
    this.byKey.set(recordKey(record), record);
    let set = this.types.get(record.name);
    if (!set) {
      set = new Set();
      this.types.set(record.name, set);
    }
    set.add(record.type);
  }

  private erase(key: string): void {
    const existing = this.byKey.get(key);
    if (!existing) return;
    this.byKey.delete(key);
    const set = this.types.get(existing.name);
    set?.delete(existing.type);
    if (set?.size === 0) this.types.delete(existing.name);
  }
}

function refuse(provider: string, code: string, message: string): never {
  throw new ProviderError(message, provider, code, false);
}

/** Applies one change to `table` by the strict rules; throws a ProviderError naming it. */
function applyOne(table: RecordTable, zone: Zone, c: Change, provider: string): void {
  const r = c.record;
  const key = recordKey(r);
  const inZ = `in zone ${zone.name}`;
  if (!inZone(r.name, zone.name)) refuse(provider, 'InvalidChangeBatch', `${r.name} is not ${inZ}`);
  if (!r.alias && r.values.length === 0)
    refuse(provider, 'InvalidChangeBatch', `${key} has no values`);
  const existing = table.get(key);
  if (c.action === 'delete') {
    if (!existing || !sameRecord(existing, r))
      refuse(provider, 'InvalidChangeBatch', `${key} not found as given ${inZ}`);
    table.remove(key);
    return;
  }
  if (c.action === 'update') {
    const oldKey = recordKey(c.old);
    const old = table.get(oldKey);
    if (!old || !sameRecord(old, c.old))
      refuse(provider, 'InvalidChangeBatch', `${oldKey} not found as given ${inZ}`);
    table.remove(oldKey);
  } else if (existing) {
    refuse(provider, 'InvalidChangeBatch', `${key} already exists ${inZ}`);
  }
  const others = table.typesAt(r.name).filter((t) => t !== r.type);
  if (r.type === 'CNAME' ? others.length > 0 : others.includes('CNAME')) {
    refuse(provider, 'InvalidChangeBatch', `${r.name}: a CNAME cannot coexist with other records`);
  }
  if (r.type === 'CNAME' && r.values.length > 1)
    refuse(provider, 'InvalidChangeBatch', `${key}: one CNAME target only`);
  table.put(structuredClone(r));
}

/**
 * Applies a group of changes to `table` by the strict rules, all or nothing: on the first
 * refusal the group's writes are undone and the ProviderError thrown.
 */
export function applyStrictly(
  table: RecordTable,
  zone: Zone,
  group: Change[],
  provider: string,
): void {
  const mark = table.mark();
  try {
    for (const c of group) applyOne(table, zone, c, provider);
  } catch (err) {
    table.rollback(mark);
    throw err;
  }
  table.commit();
}

/** The record sets changes write (each record's, and an update's old one), once each. */
export function touchedSets(
  changes: Change[],
): Array<{ key: string; name: string; type: RecordType }> {
  const sets = new Map<string, { key: string; name: string; type: RecordType }>();
  for (const c of changes) {
    for (const r of c.action === 'update' ? [c.old, c.record] : [c.record]) {
      const key = recordKey(r);
      if (!sets.has(key)) sets.set(key, { key, name: r.name, type: r.type });
    }
  }
  return [...sets.values()];
}

/**
 * The groups of `changes` that pass the strict rules against `current` (checked on a copy,
 * in order; each refused group goes to `result.failed`), in batches whose `cost` stays
 * within `max`: what a provider checking changes itself sends, call by call.
 */
export function strictBatches(
  current: RecordTable,
  zone: Zone,
  changes: Change[],
  provider: string,
  result: ApplyResult,
  max: number,
  cost: (group: Change[]) => number,
): Change[][][] {
  const check = new RecordTable(current.records());
  const batches: Change[][][] = [];
  let batch: Change[][] = [];
  let size = 0;
  for (const group of changeGroups(changes)) {
    try {
      applyStrictly(check, zone, group, provider);
    } catch (err) {
      for (const change of group) result.failed.push({ change, error: err as Error });
      continue;
    }
    const c = cost(group);
    if (batch.length > 0 && size + c > max) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(group);
    size += c;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
