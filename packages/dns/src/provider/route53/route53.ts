import {
  ChangeResourceRecordSetsCommand,
  type HostedZone,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  ListTagsForResourcesCommand,
  type ResourceRecordSet,
  Route53Client,
  type Route53ClientConfig,
  type RRType,
} from '@aws-sdk/client-route-53';
import {
  type BackoffOptions,
  type BucketRateLimiter,
  type Logger,
  silentLogger,
  withRetry,
} from '@chousei/runtime';
import { type Change, type RecordSet, recordKey, sameRecord, type Zone } from '../../records.js';
import { startRequest } from '../metrics.js';
import {
  type ApplyResult,
  type Provider,
  type ProviderCapabilities,
  type ProviderError,
  resendParts,
  WRITABLE_TYPES,
} from '../provider.js';
import { type ChangeGroup, groupCost, packBatches } from './batch.js';
import { fromRoute53, toRoute53, toRoute53Changes, unescapeName } from './convert.js';
import { CONTENT_CODES, classify, toProviderError } from './errors.js';
import { type RateLimitOptions, sharedLimiter, takeToken } from './rate-limit.js';
import { bareZoneId, type Route53ZoneFilter, tagsMatch, zoneMatches } from './zone-filter.js';

export type Route53Operation =
  | 'ListHostedZones'
  | 'ListResourceRecordSets'
  | 'ChangeResourceRecordSets'
  | 'ListTagsForResources';

export interface Route53ProviderOptions {
  /**
   * A ready client. Give it `maxAttempts: 1`: this provider retries itself, through the
   * shared rate limiter, and SDK retries would bypass it.
   */
  client?: Route53Client;
  /** Default: the SDK's (AWS_ENDPOINT_URL, else the Route53 endpoint for the partition). */
  endpoint?: string;
  /** Default: the SDK's region chain; Route53 is global, the region picks the partition. */
  region?: string;
  /** Default: the SDK's standard credential chain. */
  credentials?: Route53ClientConfig['credentials'];
  zoneFilter?: Route53ZoneFilter;
  /** The process-wide limit this instance shares; default 5 requests/s, burst 5. */
  rateLimit?: RateLimitOptions;
  /** Retries of a throttled or failed request; default 8. */
  maxRetries?: number;
  /** Delay between retries; default 500 ms doubling to 30 s, with jitter. */
  backoff?: BackoffOptions;
  logger?: Logger;
}

/** Calls made by this instance, for tests and benchmarks. */
export interface Route53Stats {
  /** Requests sent, retries included, by operation. */
  calls: Partial<Record<Route53Operation, number>>;
  /** ChangeResourceRecordSets calls the service accepted. */
  changeCalls: number;
  retries: number;
  throttled: number;
}

/**
 * A record set as last listed, with its exact Route53 spelling (for DELETE), kept only where
 * that spelling is not what toRoute53 writes (escapes, value order, text split otherwise).
 */
interface Seen {
  record: RecordSet;
  rrset: ResourceRecordSet;
}

type SendOutcome = { ok: true } | { ok: false; error: ProviderError; maybeApplied: boolean };

const TAG_BATCH = 10; // ListTagsForResources takes at most 10 ids
const PAGE_SIZE = 300; // ListResourceRecordSets' largest page

/**
 * Route53 hosted zones as a Provider. Every request waits for a token of a bucket shared by
 * all instances in the process (Route53 allows 5 requests/s per account) and is retried
 * with backoff when throttled or failed for a transient reason. `apply` packs changes into
 * as few ChangeResourceRecordSets calls as the quotas allow; the groups of a rejected call
 * are resent in smaller calls so that one bad record cannot hold back the others.
 */
const PROVIDER_NAME = 'route53';

export class Route53Provider implements Provider {
  readonly name = PROVIDER_NAME;
  readonly capabilities: ProviderCapabilities = {
    maxChangesPerCall: 1000,
    maxValueCharsPerCall: 32_000,
    recordTypes: WRITABLE_TYPES,
    alias: true,
    // The quotas count what goes on the wire: quoted TXT strings, UPSERTs twice.
    cost: (change) => {
      const cost = groupCost({ changes: [change], wire: toRoute53Changes(change) });
      return { changes: cost.records, chars: cost.chars };
    },
  };
  readonly stats: Route53Stats = { calls: {}, changeCalls: 0, retries: 0, throttled: 0 };
  private readonly client: Route53Client;
  private readonly filter: Route53ZoneFilter;
  private readonly limiter: BucketRateLimiter;
  private readonly maxRetries: number;
  private readonly backoff: BackoffOptions;
  private readonly log: Logger;
  /** By zone id, then record key: what the zone held when last listed or written. */
  private readonly seen = new Map<string, Map<string, Seen>>();

  constructor(options: Route53ProviderOptions = {}) {
    this.client =
      options.client ??
      new Route53Client({
        endpoint: options.endpoint,
        region: options.region,
        credentials: options.credentials,
        maxAttempts: 1,
        requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 },
      });
    this.filter = options.zoneFilter ?? {};
    this.limiter = sharedLimiter(options.rateLimit);
    this.maxRetries = options.maxRetries ?? 8;
    this.backoff = { initialMs: 500, maxMs: 30_000, ...options.backoff };
    this.log = (options.logger ?? silentLogger).child({ provider: 'route53' });
  }

  async zones(signal?: AbortSignal): Promise<Zone[]> {
    const hosted: HostedZone[] = [];
    let marker: string | undefined;
    do {
      const page = await this.request(
        'ListHostedZones',
        () =>
          this.client.send(new ListHostedZonesCommand({ Marker: marker }), { abortSignal: signal }),
        signal,
      );
      hosted.push(...(page.HostedZones ?? []));
      marker = page.IsTruncated ? page.NextMarker : undefined;
    } while (marker);
    const zones = hosted
      .filter((z) => z.Id && z.Name)
      .map(
        (z): Zone => ({
          id: bareZoneId(z.Id!),
          name: unescapeName(z.Name!),
          private: z.Config?.PrivateZone ?? false,
        }),
      )
      .filter((z) => zoneMatches(z, this.filter));
    const wanted = this.filter.tags;
    if (!wanted || Object.keys(wanted).length === 0) return zones;
    await this.loadTags(zones, signal);
    return zones.filter((z) => tagsMatch(z.tags ?? {}, wanted));
  }

  private async loadTags(zones: Zone[], signal: AbortSignal | undefined): Promise<void> {
    const byId = new Map(zones.map((z) => [z.id, z]));
    for (let i = 0; i < zones.length; i += TAG_BATCH) {
      const ids = zones.slice(i, i + TAG_BATCH).map((z) => z.id);
      const out = await this.request(
        'ListTagsForResources',
        () =>
          this.client.send(
            new ListTagsForResourcesCommand({ ResourceType: 'hostedzone', ResourceIds: ids }),
            { abortSignal: signal },
          ),
        signal,
      );
      for (const set of out.ResourceTagSets ?? []) {
        const zone = byId.get(bareZoneId(set.ResourceId ?? ''));
        if (!zone) continue;
        zone.tags = Object.fromEntries(
          (set.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? '']),
        );
      }
    }
  }

  async records(zone: Zone, signal?: AbortSignal): Promise<RecordSet[]> {
    const records: RecordSet[] = [];
    const seen = new Map<string, Seen>();
    let skipped = 0;
    let next: { name?: string; type?: RRType; id?: string } | undefined = {};
    while (next) {
      const start: { name?: string; type?: RRType; id?: string } = next;
      const page: ListResourceRecordSetsCommandOutput = await this.request(
        'ListResourceRecordSets',
        () =>
          this.client.send(
            new ListResourceRecordSetsCommand({
              HostedZoneId: zone.id,
              MaxItems: PAGE_SIZE,
              StartRecordName: start.name,
              StartRecordType: start.type,
              StartRecordIdentifier: start.id,
            }),
            { abortSignal: signal },
          ),
        signal,
      );
      for (const rrset of page.ResourceRecordSets ?? []) {
        const listed = fromRoute53(rrset);
        if (!listed) {
          skipped++;
          continue;
        }
        // Copied flat: the SDK's strings are ropes of a node per character, held as long as
        // the zone is cached. Only a spelling that is not ours is kept (most sets are
        // spelled as toRoute53 writes them).
        const record = structuredClone(listed);
        records.push(record);
        if (!sameSpelling(rrset, toRoute53(record)))
          seen.set(recordKey(record), structuredClone({ record, rrset: spellingOf(rrset) }));
      }
      next = page.IsTruncated
        ? { name: page.NextRecordName, type: page.NextRecordType, id: page.NextRecordIdentifier }
        : undefined;
    }
    this.seen.set(zone.id, seen);
    if (skipped > 0) {
      this.log.debug({ zone: zone.name, skipped }, 'record sets the model cannot hold skipped');
    }
    return records;
  }

  async apply(zone: Zone, changes: Change[], signal?: AbortSignal): Promise<ApplyResult> {
    const result: ApplyResult = { applied: [], failed: [] };
    const batches = packBatches(changes, (c) => toRoute53Changes(c, (r) => this.exact(zone, r)));
    try {
      for (const [i, batch] of batches.entries()) {
        const fatal = await this.land(zone, batch.groups, result, signal);
        if (fatal) {
          // Refused for a reason that is not the content (access, zone gone): the other
          // batches would be refused the same, so they are not sent.
          for (const later of batches.slice(i + 1)) this.fail(later.groups, fatal, result);
          break;
        }
      }
      // Cancelled: what landed is unknown to the caller, who reads the zone again anyway.
      signal?.throwIfAborted();
    } catch (err) {
      // The service stayed unreachable through every retry, or the caller gave up. With
      // nothing settled there is nothing to report: throw. Otherwise report what landed
      // and fail the rest.
      if (signal?.aborted) throw signal.reason;
      if (result.applied.length === 0 && result.failed.length === 0) throw err;
      const settled = new Set([...result.applied, ...result.failed.map((f) => f.change)]);
      const error = toProviderError(err);
      for (const change of changes) if (!settled.has(change)) result.failed.push({ change, error });
    }
    if (result.failed.length > 0) {
      this.log.warn(
        { zone: zone.name, applied: result.applied.length, failed: result.failed.length },
        'route53 rejected changes',
      );
    }
    return result;
  }

  /**
   * Lands `groups` in one call. When Route53 refuses the call for its content it applies
   * none of it, so the groups are sent again in smaller calls, down to one group alone: the
   * good ones land, and a bad one fails with the message of its own call. Small sets go one
   * group per call; larger ones are halved, so one bad record in a full batch of hundreds of
   * groups costs a few dozen calls at most (not one per group, at 5 requests/s shared by the
   * process). Returns an error that is not about the content (access, zone gone), for which
   * the rest is not sent.
   */
  private async land(
    zone: Zone,
    groups: ChangeGroup[],
    result: ApplyResult,
    signal: AbortSignal | undefined,
  ): Promise<ProviderError | undefined> {
    const outcome = await this.send(zone, groups, signal);
    if (outcome.ok) {
      this.accept(zone, groups, result);
      return undefined;
    }
    const { error } = outcome;
    if (outcome.maybeApplied) {
      // An earlier attempt (5xx, cut connection) may have landed and the resend been refused
      // because of it (a CREATE that now exists): look before blaming the content.
      const rest = await this.settleLanded(zone, groups, result, signal);
      if (rest.length === 0) return undefined;
      if (rest.length < groups.length) return this.land(zone, rest, result, signal);
    }
    if (!CONTENT_CODES.has(error.code) || groups.length === 1) {
      this.fail(groups, error, result);
      return CONTENT_CODES.has(error.code) ? undefined : error;
    }
    this.log.debug(
      { zone: zone.name, groups: groups.length, error: error.message },
      'change batch rejected, resending in smaller calls',
    );
    const parts = resendParts(groups);
    for (const [i, part] of parts.entries()) {
      const fatal = await this.land(zone, part, result, signal);
      if (fatal) {
        for (const later of parts.slice(i + 1)) this.fail(later, fatal, result);
        return fatal;
      }
    }
    return undefined;
  }

  /** One ChangeResourceRecordSets call (with retries); throws only when unreachable. */
  private async send(
    zone: Zone,
    groups: ChangeGroup[],
    signal: AbortSignal | undefined,
  ): Promise<SendOutcome> {
    const track = { maybeApplied: false, signal };
    try {
      await this.call(
        'ChangeResourceRecordSets',
        () =>
          this.client.send(
            new ChangeResourceRecordSetsCommand({
              HostedZoneId: zone.id,
              ChangeBatch: { Changes: groups.flatMap((g) => g.wire) },
            }),
            { abortSignal: signal },
          ),
        track,
      );
      this.stats.changeCalls++;
      return { ok: true };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const error = toProviderError(err);
      if (error.retryable) throw error;
      return { ok: false, error, maybeApplied: track.maybeApplied };
    }
  }

  /**
   * Lists the zone and counts as applied the groups whose end state it already shows;
   * returns the others.
   */
  private async settleLanded(
    zone: Zone,
    groups: ChangeGroup[],
    result: ApplyResult,
    signal: AbortSignal | undefined,
  ): Promise<ChangeGroup[]> {
    const state = new Map((await this.records(zone, signal)).map((r) => [recordKey(r), r]));
    const holds = (c: Change): boolean => {
      const now = state.get(recordKey(c.record));
      if (c.action === 'delete') return now === undefined;
      const moved = c.action === 'update' && recordKey(c.old) !== recordKey(c.record);
      if (moved && state.has(recordKey(c.old))) return false;
      return now !== undefined && sameRecord(now, c.record);
    };
    const rest: ChangeGroup[] = [];
    for (const group of groups) {
      if (group.changes.every(holds)) result.applied.push(...group.changes);
      else rest.push(group);
    }
    return rest;
  }

  private accept(zone: Zone, groups: ChangeGroup[], result: ApplyResult): void {
    let seen = this.seen.get(zone.id);
    if (!seen) {
      seen = new Map();
      this.seen.set(zone.id, seen);
    }
    for (const group of groups) {
      for (const c of group.changes) {
        // What we wrote is spelled as toRoute53 writes it.
        if (c.action === 'update') seen.delete(recordKey(c.old));
        seen.delete(recordKey(c.record));
      }
      result.applied.push(...group.changes);
    }
  }

  private fail(groups: ChangeGroup[], error: Error, result: ApplyResult): void {
    for (const g of groups) for (const change of g.changes) result.failed.push({ change, error });
  }

  /** The set as Route53 holds it when it still matches `record`, else as we would write it. */
  private exact(zone: Zone, record: RecordSet): ResourceRecordSet {
    const hit = this.seen.get(zone.id)?.get(recordKey(record));
    return hit && sameRecord(hit.record, record) ? hit.rrset : toRoute53(record);
  }

  /** `call` with the error as a ProviderError: for reads, which have no partial result. */
  private async request<T>(
    operation: Route53Operation,
    send: () => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    try {
      return await this.call(operation, send, { maybeApplied: false, signal });
    } catch (err) {
      // Cancelled by the caller: its reason, not a provider failure.
      if (signal?.aborted) throw signal.reason;
      throw toProviderError(err);
    }
  }

  /**
   * One API operation: a token from the shared bucket before every attempt, metrics and
   * stats for each, retries with backoff while the error is transient; `track.signal`
   * cancels the wait, the request and the retries.
   */
  private call<T>(
    operation: Route53Operation,
    send: () => Promise<T>,
    track: { maybeApplied: boolean; signal: AbortSignal | undefined },
  ): Promise<T> {
    const { signal } = track;
    return withRetry(
      async () => {
        await takeToken(this.limiter, signal);
        signal?.throwIfAborted();
        this.stats.calls[operation] = (this.stats.calls[operation] ?? 0) + 1;
        const done = startRequest(PROVIDER_NAME, operation);
        try {
          const out = await send();
          done('success');
          return out;
        } catch (err) {
          const info = classify(err);
          done(info.throttled ? 'throttled' : 'error');
          if (info.throttled) this.stats.throttled++;
          if (info.maybeApplied) track.maybeApplied = true;
          throw err;
        }
      },
      {
        maxRetries: this.maxRetries,
        backoff: this.backoff,
        ...(signal ? { signal } : {}),
        retryable: (err) => classify(err).retryable,
        onRetry: (err, retry, delayMs) => {
          this.stats.retries++;
          const info = classify(err);
          this.log.debug(
            {
              operation,
              code: info.code,
              status: info.status,
              retry,
              delayMs: Math.round(delayMs),
            },
            'route53 request failed, retrying',
          );
        },
      },
    );
  }
}

/** The fields of a listed set that its DELETE must repeat. */
function spellingOf(rr: ResourceRecordSet): ResourceRecordSet {
  return {
    Name: rr.Name,
    Type: rr.Type,
    ...(rr.TTL !== undefined ? { TTL: rr.TTL } : {}),
    ...(rr.ResourceRecords
      ? { ResourceRecords: rr.ResourceRecords.map((r) => ({ Value: r.Value })) }
      : {}),
    ...(rr.AliasTarget ? { AliasTarget: { ...rr.AliasTarget } } : {}),
  };
}

/** Whether two sets are spelled alike on the wire (values in any order). */
function sameSpelling(a: ResourceRecordSet, b: ResourceRecordSet): boolean {
  const values = (rr: ResourceRecordSet) =>
    (rr.ResourceRecords ?? []).map((r) => r.Value ?? '').sort();
  const alias = (rr: ResourceRecordSet) =>
    rr.AliasTarget
      ? [rr.AliasTarget.HostedZoneId, rr.AliasTarget.DNSName, !!rr.AliasTarget.EvaluateTargetHealth]
      : [];
  return (
    a.Name === b.Name &&
    a.Type === b.Type &&
    (a.AliasTarget ? true : a.TTL === b.TTL) &&
    JSON.stringify([values(a), alias(a)]) === JSON.stringify([values(b), alias(b)])
  );
}
