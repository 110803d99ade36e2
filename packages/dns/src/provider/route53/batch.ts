// Packs changes into ChangeResourceRecordSets calls. batchChanges (provider.ts) counts in
// the model (one per change, value lengths); Route53 counts what goes on the wire: every
// ResourceRecord element (a three-value A is three), the characters of every Value as sent
// (TXT quotes and escapes included), and both of them twice for an UPSERT. A batch that
// fits the model's count can be rejected whole by the service, so this packer counts both
// ways and keeps every batch within the two.
import type { Change as R53Change } from '@aws-sdk/client-route-53';
import type { Change } from '../../records.js';
import { changeCount, valueChars } from '../provider.js';

/** Route53's per-request quotas for ChangeResourceRecordSets. */
export interface Route53Limits {
  /** ResourceRecord elements per request (UPSERT counts twice). */
  records: number;
  /** Characters of Value elements per request (UPSERT counts twice). */
  chars: number;
}

export const ROUTE53_LIMITS: Route53Limits = { records: 1000, chars: 32_000 };

/** One group: changes that land together, and their Route53 form. */
export interface ChangeGroup {
  changes: Change[];
  wire: R53Change[];
}

/** One call's worth of groups. */
export interface ChangeBatch {
  groups: ChangeGroup[];
}

export interface Cost {
  records: number;
  chars: number;
}

/** What one Route53 change costs against the quotas. */
export function wireCost(c: R53Change): Cost {
  const set = c.ResourceRecordSet;
  const times = c.Action === 'UPSERT' ? 2 : 1;
  const values = set?.ResourceRecords ?? [];
  const chars = set?.AliasTarget
    ? (set.AliasTarget.DNSName?.length ?? 0)
    : values.reduce((n, v) => n + (v.Value?.length ?? 0), 0);
  // An alias has no ResourceRecord; it counts as one so a batch never exceeds 1000 changes.
  return { records: Math.max(1, values.length) * times, chars: chars * times };
}

/** A group's cost: the larger of the wire count and the model count (batchChanges'). */
export function groupCost(group: ChangeGroup): Cost {
  const wire = group.wire.map(wireCost);
  const records = wire.reduce((n, c) => n + c.records, 0);
  const chars = wire.reduce((n, c) => n + c.chars, 0);
  return {
    records: Math.max(
      records,
      group.changes.reduce((n, c) => n + changeCount(c), 0),
    ),
    chars: Math.max(
      chars,
      group.changes.reduce((n, c) => n + valueChars(c), 0),
    ),
  };
}

/** Changes by `group` (an ungrouped change is its own group), in first-seen order. */
export function groupChanges(changes: Change[], toWire: (c: Change) => R53Change[]): ChangeGroup[] {
  const groups = new Map<string, ChangeGroup>();
  changes.forEach((c, i) => {
    const key = c.group === undefined ? `#${i}` : `g:${c.group}`;
    let g = groups.get(key);
    if (!g) {
      g = { changes: [], wire: [] };
      groups.set(key, g);
    }
    g.changes.push(c);
    g.wire.push(...toWire(c));
  });
  return [...groups.values()];
}

/**
 * Fills each call as far as the quotas allow, in order, never splitting a group: the
 * fewest calls for groups of even size. A group too big for any call goes alone (and is
 * rejected by the service, reported as failed).
 */
export function packBatches(
  changes: Change[],
  toWire: (c: Change) => R53Change[],
  limits: Route53Limits = ROUTE53_LIMITS,
): ChangeBatch[] {
  const batches: ChangeBatch[] = [];
  let batch: ChangeBatch = { groups: [] };
  let used: Cost = { records: 0, chars: 0 };
  for (const group of groupChanges(changes, toWire)) {
    const cost = groupCost(group);
    const over =
      used.records + cost.records > limits.records || used.chars + cost.chars > limits.chars;
    if (batch.groups.length > 0 && over) {
      batches.push(batch);
      batch = { groups: [] };
      used = { records: 0, chars: 0 };
    }
    batch.groups.push(group);
    used = { records: used.records + cost.records, chars: used.chars + cost.chars };
  }
  if (batch.groups.length > 0) batches.push(batch);
  return batches;
}
