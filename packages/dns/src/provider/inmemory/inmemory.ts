import { type Change, normalizeName, type RecordSet, type Zone } from '../../records.js';
import {
  type ApplyResult,
  batchChanges,
  changeGroups,
  type Provider,
  type ProviderCapabilities,
  ProviderError,
  WRITABLE_TYPES,
} from '../provider.js';
import { applyStrictly, RecordTable } from '../rules.js';

/**
 * Zones held in memory, with the strict rules of a real service (a create must not exist,
 * a delete or update must match exactly, CNAME stands alone), applied all-or-nothing per
 * group. For tests and `--dry-run`.
 */
export class InMemoryProvider implements Provider {
  readonly name = 'inmemory';
  readonly capabilities: ProviderCapabilities;
  private readonly zoneRecords = new Map<string, RecordTable>();
  private readonly zoneList: Zone[] = [];
  /** Calls made, by operation: for tests that count API use. */
  readonly calls = { zones: 0, records: 0, apply: 0 };

  constructor(zones: Array<string | Zone> = [], capabilities: Partial<ProviderCapabilities> = {}) {
    this.capabilities = {
      maxChangesPerCall: 1000,
      recordTypes: WRITABLE_TYPES,
      alias: false,
      ...capabilities,
    };
    for (const z of zones)
      this.addZone(typeof z === 'string' ? { id: normalizeName(z), name: normalizeName(z) } : z);
  }

  addZone(zone: Zone): void {
    this.zoneList.push(zone);
    this.zoneRecords.set(zone.id, new RecordTable());
  }

  async zones(): Promise<Zone[]> {
    this.calls.zones++;
    return this.zoneList.map((z) => ({ ...z }));
  }

  async records(zone: Zone): Promise<RecordSet[]> {
    this.calls.records++;
    return this.table(zone)
      .records()
      .map((r) => structuredClone(r));
  }

  async apply(zone: Zone, changes: Change[]): Promise<ApplyResult> {
    const table = this.table(zone);
    const result: ApplyResult = { applied: [], failed: [] };
    for (const batch of batchChanges(changes, this.capabilities)) {
      this.calls.apply++;
      for (const group of changeGroups(batch)) {
        try {
          applyStrictly(table, zone, group, this.name);
          result.applied.push(...group);
        } catch (err) {
          for (const change of group) result.failed.push({ change, error: err as Error });
        }
      }
    }
    return result;
  }

  private table(zone: Zone): RecordTable {
    const t = this.zoneRecords.get(zone.id);
    if (!t) throw new ProviderError(`no zone ${zone.id}`, this.name, 'NoSuchHostedZone', false);
    return t;
  }
}
