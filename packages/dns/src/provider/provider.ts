import type { Change, RecordSet, RecordType, Zone } from '../records.js';

/** The types every provider writes and reads (SOA belongs to the server). */
export const WRITABLE_TYPES: readonly RecordType[] = [
  'A',
  'AAAA',
  'CNAME',
  'TXT',
  'SRV',
  'MX',
  'NS',
];

/** What a provider can do, for planners and batchers. */
export interface ProviderCapabilities {
  /** Most changes one apply call sends (Route53: 1000 records). */
  maxChangesPerCall: number;
  /** Most characters of record values one call sends (Route53: 32000); none when unset. */
  maxValueCharsPerCall?: number;
  recordTypes: readonly RecordType[];
  /** Supports alias records (Route53). */
  alias: boolean;
  /**
   * What a change counts against the two limits, as the service counts it (e.g. Route53
   * counts quoted TXT strings and an UPSERT twice). Default: `changeCount`, `valueChars`.
   */
  cost?: (change: Change) => ChangeCost;
}

/** A change's weight against `maxChangesPerCall` and `maxValueCharsPerCall`. */
export interface ChangeCost {
  changes: number;
  chars: number;
}

/** The cost of a change under a provider's capabilities. */
export function costOf(c: Change, caps: ProviderCapabilities): ChangeCost {
  return caps.cost ? caps.cost(c) : { changes: changeCount(c), chars: valueChars(c) };
}

/** Whether `cost` more fits into a call already holding `used`. */
export function fits(used: ChangeCost, cost: ChangeCost, caps: ProviderCapabilities): boolean {
  return (
    used.changes + cost.changes <= caps.maxChangesPerCall &&
    (caps.maxValueCharsPerCall === undefined ||
      used.chars + cost.chars <= caps.maxValueCharsPerCall)
  );
}

/** The outcome of one apply: which changes landed, which did not and why. */
export interface ApplyResult {
  applied: Change[];
  failed: Array<{ change: Change; error: Error }>;
}

/**
 * A DNS service: list zones, list a zone's records, apply changes to a zone. Everything
 * else (ownership, planning, filtering) is built on these three calls.
 *
 * Each call takes an optional AbortSignal: when it aborts, the call stops waiting (for the
 * service, a rate limit, a retry) and rejects with the signal's reason, so a shutdown is
 * never held up by a slow or stalled service. After an aborted `apply` the caller cannot
 * know which changes landed and must read the zone again.
 */
export interface Provider {
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  zones(signal?: AbortSignal): Promise<Zone[]>;
  records(zone: Zone, signal?: AbortSignal): Promise<RecordSet[]>;
  /**
   * Applies as many changes as the service accepts. Never throws for a rejected change: it
   * is reported in `failed` with the service's reason. Throws only when the service could
   * not be reached at all (after its own retries), or when `signal` aborted.
   */
  apply(zone: Zone, changes: Change[], signal?: AbortSignal): Promise<ApplyResult>;
  /**
   * Where the service can: adds or removes one value of a record set in one request, the
   * set's other values untouched and nothing read first (RFC2136 adds and deletes single
   * RRs). Adding a value present, or removing one absent, changes nothing. Callers without
   * it read the set and apply a change (DNS-01 challenges: many at once, one value each).
   */
  editValue?(zone: Zone, edit: ValueEdit, signal?: AbortSignal): Promise<void>;
}

/** One value of a record set, added or removed. */
export interface ValueEdit {
  op: 'add' | 'remove';
  name: string;
  type: RecordType;
  /** For an add that creates the set. */
  ttl: number;
  value: string;
}

/** A provider error that carries the service's own code and whether retrying may help. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    message: string,
    readonly provider: string,
    readonly code: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Changes grouped for atomic application, in order: by `group`, an ungrouped change alone. */
export function changeGroups(changes: Change[]): Change[][] {
  const groups = new Map<string, Change[]>();
  changes.forEach((c, i) => {
    const key = c.group === undefined ? `#${i}` : `g:${c.group}`;
    const list = groups.get(key);
    if (list) list.push(c);
    else groups.set(key, [c]);
  });
  return [...groups.values()];
}

/** Splits changes into batches within the limits, never splitting a group. */
export function batchChanges(changes: Change[], caps: ProviderCapabilities): Change[][] {
  const batches: Change[][] = [];
  let batch: Change[] = [];
  let used: ChangeCost = { changes: 0, chars: 0 };
  for (const group of changeGroups(changes)) {
    const cost = group.reduce<ChangeCost>(
      (sum, c) => {
        const one = costOf(c, caps);
        return { changes: sum.changes + one.changes, chars: sum.chars + one.chars };
      },
      { changes: 0, chars: 0 },
    );
    if (batch.length > 0 && !fits(used, cost, caps)) {
      batches.push(batch);
      batch = [];
      used = { changes: 0, chars: 0 };
    }
    batch.push(...group);
    used = { changes: used.changes + cost.changes, chars: used.chars + cost.chars };
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/** A refused call of at most this many groups is resent one group per call, else halved. */
const ONE_BY_ONE = 4;

/**
 * How the groups of a call the service refused for its content are sent again: one group
 * per call when they are few, else in halves, so one bad group among hundreds costs a few
 * dozen calls (not one per group), and the good ones land.
 */
export function resendParts<T>(groups: T[]): T[][] {
  if (groups.length <= ONE_BY_ONE) return groups.map((g) => [g]);
  const half = Math.ceil(groups.length / 2);
  return [groups.slice(0, half), groups.slice(half)];
}

/** Record changes a change costs at the service: an update is a delete plus a create. */
export function changeCount(c: Change): number {
  return c.action === 'update' ? 2 : 1;
}

/** Characters of values a change sends (both sides of an update). */
export function valueChars(c: Change): number {
  const chars = (r: RecordSet) =>
    r.alias ? r.alias.dnsName.length : r.values.reduce((n, v) => n + v.length, 0);
  return c.action === 'update' ? chars(c.old) + chars(c.record) : chars(c.record);
}
