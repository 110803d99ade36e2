import {
  type Change,
  inZone,
  normalizeName,
  type RecordSet,
  type RecordType,
  recordKey,
  sameRecord,
  type Zone,
} from '../../records.js';
import {
  type ApplyResult,
  batchChanges,
  type Provider,
  type ProviderCapabilities,
  ProviderError,
} from '../provider.js';

/**
 * Zones held in memory, with the strict rules of a real service (a create must not exist,
 * a delete or update must match exactly, CNAME stands alone), applied all-or-nothing per
 * group. For tests and `--dry-run`.
 */
export class InMemoryProvider implements Provider {
  readonly name = 'inmemory';
  readonly capabilities: ProviderCapabilities;
  private readonly zoneRecords = new Map<string, Map<string, RecordSet>>();
  private readonly zoneList: Zone[] = [];
  /** Calls made, by operation: for tests that count API use. */
  readonly calls = { zones: 0, records: 0, apply: 0 };

  constructor(zones: Array<string | Zone> = [], capabilities: Partial<ProviderCapabilities> = {}) {
    this.capabilities = {
      maxChangesPerCall: 1000,
      recordTypes: ['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'NS'] as RecordType[],
      alias: false,
      ...capabilities,
    };
    for (const z of zones)
      this.addZone(typeof z === 'string' ? { id: normalizeName(z), name: normalizeName(z) } : z);
  }

  addZone(zone: Zone): void {
    this.zoneList.push(zone);
    this.zoneRecords.set(zone.id, new Map());
  }

  async zones(): Promise<Zone[]> {
    this.calls.zones++;
    return this.zoneList.map((z) => ({ ...z }));
  }

  async records(zone: Zone): Promise<RecordSet[]> {
    this.calls.records++;
    return [...this.table(zone).values()].map((r) => structuredClone(r));
  }

  async apply(zone: Zone, changes: Change[]): Promise<ApplyResult> {
    const table = this.table(zone);
    const result: ApplyResult = { applied: [], failed: [] };
    for (const batch of batchChanges(changes, this.capabilities)) {
      this.calls.apply++;
      const groups = new Map<string, Change[]>();
      batch.forEach((c, i) => {
        const key = c.group ?? `#${i}`;
        groups.set(key, [...(groups.get(key) ?? []), c]);
      });
      for (const group of groups.values()) {
        const draft = new Map(table);
        try {
          for (const c of group) applyOne(draft, zone, c);
          for (const [k, v] of draft) table.set(k, v);
          for (const k of [...table.keys()]) if (!draft.has(k)) table.delete(k);
          result.applied.push(...group);
        } catch (err) {
          for (const change of group) result.failed.push({ change, error: err as Error });
        }
      }
    }
    return result;
  }

  private table(zone: Zone): Map<string, RecordSet> {
    const t = this.zoneRecords.get(zone.id);
    if (!t) throw new ProviderError(`no zone ${zone.id}`, this.name, 'NoSuchHostedZone', false);
    return t;
  }
}

function reject(code: string, message: string): never {
  throw new ProviderError(message, 'inmemory', code, false);
}

function applyOne(table: Map<string, RecordSet>, zone: Zone, c: Change): void {
  const r = c.record;
  if (!inZone(r.name, zone.name))
    reject('InvalidChangeBatch', `${r.name} is not in zone ${zone.name}`);
  if (!r.alias && r.values.length === 0)
    reject('InvalidChangeBatch', `${recordKey(r)} has no values`);
  const key = recordKey(r);
  const existing = table.get(key);
  if (c.action === 'delete') {
    if (!existing || !sameRecord(existing, r))
      reject('InvalidChangeBatch', `${key} not found as given`);
    table.delete(key);
    return;
  }
  if (c.action === 'update') {
    const old = table.get(recordKey(c.old));
    if (!old || !sameRecord(old, c.old))
      reject('InvalidChangeBatch', `${recordKey(c.old)} not found as given`);
    table.delete(recordKey(c.old));
  } else if (existing) {
    reject('InvalidChangeBatch', `${key} already exists`);
  }
  const others = [...table.values()].filter((o) => o.name === r.name && o.type !== r.type);
  if (r.type === 'CNAME' ? others.length > 0 : others.some((o) => o.type === 'CNAME')) {
    reject('InvalidChangeBatch', `${r.name}: a CNAME cannot coexist with other records`);
  }
  if (r.type === 'CNAME' && r.values.length > 1)
    reject('InvalidChangeBatch', `${key}: one CNAME target only`);
  table.set(key, structuredClone(r));
}
