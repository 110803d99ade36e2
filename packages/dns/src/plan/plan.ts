import type { Change, RecordSet, RecordType } from '../records.js';
import { sameRecord } from '../records.js';
import {
  recordsAt,
  sameResource,
  type TxtRegistry,
  type ZoneView,
} from '../registry/txt-registry.js';

/** What the planner may do: external-dns's policies. */
export type Policy = 'sync' | 'upsert-only' | 'create-only';

/** A record set some object asks for. */
export interface DesiredRecord {
  record: RecordSet;
  /** `kind/namespace/name` of the object asking, written into the ownership TXT. */
  resource: string;
  /**
   * No TTL was asked for (record.ttl is the default): a record that exists keeps its TTL, as
   * external-dns changes a TTL only when one is configured (its RFC2136 provider writes 0).
   */
  keepTtl?: boolean;
}

/** A record change with the resource that caused it (for the ownership TXT). */
export type PlannedChange = Change & { resource?: string };

/** Why a desired record was not planned. */
export interface Conflict {
  desired: DesiredRecord;
  reason: 'owned-by-other' | 'unowned' | 'cname-conflict' | 'policy';
  message: string;
}

export interface PlanInput {
  /** Desired records for the names in scope. */
  desired: DesiredRecord[];
  /** The zone as the registry reads it. */
  view: ZoneView;
  registry: TxtRegistry;
  /** Only these names are planned (incremental reconcile); all names of the view when unset. */
  names?: Iterable<string>;
  policy?: Policy;
  /** Record types this planner manages; others are never touched. Default A, AAAA, CNAME. */
  managedTypes?: ReadonlySet<RecordType>;
}

export interface Plan {
  changes: PlannedChange[];
  conflicts: Conflict[];
}

export const DEFAULT_MANAGED_TYPES: ReadonlySet<RecordType> = new Set(['A', 'AAAA', 'CNAME']);

/**
 * Desired vs current, name by name: creates for what is missing, updates for what we own
 * and differs, deletes for what we own and nobody wants (policy permitting). Records of
 * other owners, or of none, are never changed: asking for them is a conflict.
 */
export function plan(input: PlanInput): Plan {
  const policy = input.policy ?? 'sync';
  const managed = input.managedTypes ?? DEFAULT_MANAGED_TYPES;
  const { view, registry } = input;
  const desiredByName = new Map<string, DesiredRecord[]>();
  for (const d of input.desired) {
    const list = desiredByName.get(d.record.name);
    if (list) list.push(d);
    else desiredByName.set(d.record.name, [d]);
  }
  const currentByName = new Map<string, RecordSet[]>();
  if (input.names) {
    // An incremental reconcile: the names in scope looked up, not the zone scanned per name.
    for (const name of input.names)
      currentByName.set(
        name,
        recordsAt(view, name).map((o) => o.record),
      );
  } else {
    for (const { record } of view.records.values()) {
      const list = currentByName.get(record.name);
      if (list) list.push(record);
      else currentByName.set(record.name, [record]);
    }
  }
  const names = input.names
    ? new Set(input.names)
    : new Set([...desiredByName.keys(), ...currentByName.keys()]);

  const result: Plan = { changes: [], conflicts: [] };
  for (const name of names) {
    const desired = (desiredByName.get(name) ?? []).filter((d) => managed.has(d.record.type));
    const current = currentByName.get(name) ?? [];
    const ownedHere = current.filter(
      (r) => managed.has(r.type) && registry.owns(view.records.get(`${r.name}/${r.type}`)),
    );
    const wantedTypes = new Set(desired.map((d) => d.record.type));

    // Deletes first, so a type change (A -> CNAME) can land in the same group.
    const deleting = new Set<RecordType>();
    for (const r of ownedHere) {
      if (wantedTypes.has(r.type)) continue;
      if (policy === 'sync') {
        result.changes.push({ action: 'delete', record: r });
        deleting.add(r.type);
      }
    }
    const remaining = current.filter(
      (r) => !deleting.has(r.type) && r.type !== 'SOA' && r.type !== 'NS',
    );

    for (const d of desired) {
      const { type } = d.record;
      const owned = view.records.get(`${name}/${type}`);
      if (!owned) {
        const others = remaining.filter((r) => r.type !== type);
        if (
          (type === 'CNAME' && others.length) ||
          (type !== 'CNAME' && others.some((r) => r.type === 'CNAME'))
        ) {
          // A CNAME must be alone at its name (RFC 1034 3.6.2), whichever side it is on.
          const message =
            type === 'CNAME'
              ? `${name} already has ${others.map((r) => r.type).join(', ')} records, and a CNAME must be alone at its name`
              : `${name} is a CNAME, which must be alone at its name: no ${type} record can be added beside it`;
          result.conflicts.push({ desired: d, reason: 'cname-conflict', message });
          continue;
        }
        result.changes.push({ action: 'create', record: d.record, resource: d.resource });
        continue;
      }
      if (!registry.owns(owned)) {
        const owner = owned.ownership?.owner;
        result.conflicts.push({
          desired: d,
          reason: owner ? 'owned-by-other' : 'unowned',
          message: owner
            ? `${name} ${type} is owned by "${owner}", not "${registry.ownerId}"`
            : `${name} ${type} exists without an ownership record (made by hand or by another tool), so it is left alone`,
        });
        continue;
      }
      const resourceChanged = !sameResource(owned.ownership?.resource, d.resource);
      const record = d.keepTtl ? { ...d.record, ttl: owned.record.ttl } : d.record;
      if (sameRecord(owned.record, record) && !resourceChanged) continue;
      if (policy === 'create-only') {
        result.conflicts.push({
          desired: d,
          reason: 'policy',
          message: `${name} ${type} differs; policy create-only forbids updates`,
        });
        continue;
      }
      result.changes.push({ action: 'update', old: owned.record, record, resource: d.resource });
    }
  }
  return result;
}
