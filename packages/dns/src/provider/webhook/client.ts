// A Provider that is an external-dns webhook provider (an HTTP sidecar: Cloudflare, Hetzner,
// IONOS, ... or chousei-dns-webhook): its domain filter negotiated on `GET /`, records read
// with `GET /records`, records to write shaped by `POST /adjustendpoints`, changes sent with
// `POST /records`. It only stores records: ownership stays in the TXT registry above, as
// with every provider.
import type { BackoffOptions, Logger } from '@chousei/runtime';
import { silentLogger } from '@chousei/runtime';
import {
  type Change,
  mostSpecificZone,
  normalizeName,
  type RecordSet,
  recordKey,
  sameRecord,
  type Zone,
} from '../../records.js';
import { brief, type HttpResponse, HttpService, type HttpServiceStats } from '../http.js';
import {
  type ApplyResult,
  changeGroups,
  type Provider,
  type ProviderCapabilities,
  ProviderError,
  resendParts,
  WRITABLE_TYPES,
} from '../provider.js';
import { applyStrictly, RecordTable, strictBatches } from '../rules.js';
import {
  filterDomains,
  fromEndpoint,
  MEDIA_TYPE,
  toEndpoint,
  underAny,
  type WebhookChanges,
  type WebhookDomainFilter,
  type WebhookEndpoint,
} from './protocol.js';

const PROVIDER = 'webhook';
/** Single groups refused in a row before the rest of an apply is failed unsent. */
const MAX_REFUSED_IN_ROW = 3;

export interface WebhookProviderOptions {
  /** The provider's URL, e.g. `http://localhost:8888` (external-dns's --webhook-provider-url). */
  url: string;
  /**
   * Zones when the provider's domain filter names no domain (many announce none): domains
   * whose records this provider reads and writes, e.g. the operator's --domain-filter.
   */
  zones?: string[];
  /** Deadline of one request (external-dns: read + write timeout). Default 15 s. */
  timeoutMs?: number;
  /** Retries of a request that got no answer, a 5xx or 429 (never a POST /records). Default 4. */
  maxRetries?: number;
  backoff?: BackoffOptions;
  /** Endpoints per POST /records (an update counts its old and new). Default 1000. */
  maxChangesPerCall?: number;
  /**
   * How long a zone as listed (by records(), or an apply) serves to check the changes of
   * the next applies against, changed by what they landed. Default 1000 ms; 0: list every
   * time.
   */
  freshMs?: number;
  logger?: Logger;
}

/** A record as this provider last wrote it: what was asked, and what the provider stores. */
interface Written {
  desired: RecordSet;
  stored: RecordSet;
}

/** What one apply knows as it goes: the zone's records, and refusals in a row. */
interface Landing {
  zone: Zone;
  result: ApplyResult;
  refusedInRow: number;
  /** Set once the provider refused too often: the rest fails with it, unsent. */
  giveUp?: ProviderError;
}

type PostOutcome = { ok: true } | { ok: false; error: ProviderError };

export class WebhookProvider implements Provider {
  readonly name = PROVIDER;
  readonly capabilities: ProviderCapabilities;
  private readonly http: HttpService;
  private readonly configuredZones: string[];
  private readonly log: Logger;
  private negotiated: Promise<{ include: string[]; exclude: string[] }> | undefined;
  /** By zone, then record key: the endpoint as last listed, resent as is (properties and all). */
  private readonly listed = new Map<string, Map<string, WebhookEndpoint>>();
  /** By record key: what /adjustendpoints made of what this provider wrote. */
  private readonly written = new Map<string, Written>();
  /** By zone: its records as last listed, and since changed by this provider only. */
  private readonly snapshots = new Map<string, { table: RecordTable; at: number }>();
  private readonly freshMs: number;

  constructor(opts: WebhookProviderOptions) {
    this.capabilities = {
      maxChangesPerCall: opts.maxChangesPerCall ?? 1000,
      recordTypes: WRITABLE_TYPES,
      alias: false,
      cost: (c) => ({ changes: c.action === 'update' ? 2 : 1, chars: 0 }),
    };
    this.configuredZones = (opts.zones ?? []).map(normalizeName);
    this.freshMs = opts.freshMs ?? 1000;
    this.log = (opts.logger ?? silentLogger).child({ provider: PROVIDER, url: opts.url });
    this.http = new HttpService({
      provider: PROVIDER,
      baseUrl: opts.url,
      headers: { Accept: MEDIA_TYPE },
      timeoutMs: opts.timeoutMs ?? 15_000,
      maxRetries: opts.maxRetries ?? 4,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      logger: this.log,
    });
  }

  /** Requests sent, retries included, by operation: for tests and benchmarks. */
  get stats(): HttpServiceStats {
    return this.http.stats;
  }

  /**
   * The provider's domain filter (`GET /`, once): its `include` domains are the zones,
   * else the configured ones; `exclude` domains are never read or written.
   */
  async zones(): Promise<Zone[]> {
    const { include, exclude } = await this.negotiate();
    const names = include.length > 0 ? include : this.configuredZones;
    if (names.length === 0) {
      throw new ProviderError(
        `${this.http.url} announces no domains in its domain filter: name the zones (--domain-filter, or dnsZones of the solver)`,
        PROVIDER,
        'NoZones',
        false,
      );
    }
    return names.filter((n) => !underAny(n, exclude)).map((name) => ({ id: name, name }));
  }

  async records(zone: Zone): Promise<RecordSet[]> {
    return (await this.table(zone)).records();
  }

  /**
   * Checks every group against the zone as listed (a webhook provider may overwrite or
   * ignore what a strict service refuses): listed now, or within `freshMs` and changed
   * since only by this provider, since the protocol reads only the whole of every zone.
   * Shapes what is written with /adjustendpoints, then POSTs the accepted groups, as few
   * POSTs as the limit allows. A POST answered with an error may have landed in part: the
   * zone is listed again, what landed counts as applied, and the rest is resent in smaller
   * POSTs, down to one group alone.
   */
  async apply(zone: Zone, changes: Change[]): Promise<ApplyResult> {
    const landing: Landing = { zone, result: { applied: [], failed: [] }, refusedInRow: 0 };
    const snapshot = this.snapshots.get(zone.name);
    const base =
      snapshot && Date.now() - snapshot.at <= this.freshMs
        ? snapshot.table
        : await this.table(zone);
    const batches = strictBatches(
      base,
      zone,
      changes,
      PROVIDER,
      landing.result,
      this.capabilities.maxChangesPerCall,
      (group) => group.reduce((n, c) => n + (c.action === 'update' ? 2 : 1), 0),
    );
    // Refused by the rules before anything was sent: the snapshot still holds.
    const refused = landing.result.failed.length;
    for (const batch of batches) await this.land(landing, batch);
    const { result } = landing;
    this.keepSnapshot(zone, base, result, refused);
    if (result.failed.length > 0) {
      this.log.warn(
        { zone: zone.name, applied: result.applied.length, failed: result.failed.length },
        'webhook provider refused changes',
      );
    }
    return result;
  }

  /**
   * The snapshot moves on with what this apply landed; when the provider refused some of
   * it, what it holds is no longer known without listing: the snapshot goes.
   */
  private keepSnapshot(zone: Zone, base: RecordTable, result: ApplyResult, refused: number) {
    if (result.failed.length > refused) {
      this.snapshots.delete(zone.name);
      return;
    }
    try {
      for (const group of changeGroups(result.applied)) applyStrictly(base, zone, group, PROVIDER);
    } catch {
      this.snapshots.delete(zone.name);
    }
  }

  private fail(landing: Landing, groups: Change[][], error: ProviderError): void {
    for (const group of groups)
      for (const change of group) landing.result.failed.push({ change, error });
  }

  /** Lands `groups` in one POST, or in smaller ones when the provider refuses it. */
  private async land(landing: Landing, groups: Change[][]): Promise<void> {
    if (landing.giveUp) return this.fail(landing, groups, landing.giveUp);
    const outcome = await this.post(landing.zone, groups);
    if (outcome.ok) {
      landing.refusedInRow = 0;
      for (const group of groups) landing.result.applied.push(...group);
      return;
    }
    // The provider may have applied some before failing: look, and keep those.
    const rest = await this.settle(landing, groups);
    if (rest.length === 0) return;
    if (rest.length === 1) {
      this.fail(landing, rest, outcome.error);
      if (++landing.refusedInRow >= MAX_REFUSED_IN_ROW) landing.giveUp = outcome.error;
      return;
    }
    this.log.debug(
      { zone: landing.zone.name, groups: rest.length, error: outcome.error.message },
      'POST /records refused, resending in smaller POSTs',
    );
    for (const part of resendParts(rest)) await this.land(landing, part);
  }

  /** Groups whose end state the provider does not show yet; those it shows count as applied. */
  private async settle(landing: Landing, groups: Change[][]): Promise<Change[][]> {
    const now = await this.table(landing.zone);
    const holds = (c: Change): boolean => {
      const current = now.get(recordKey(c.record));
      if (c.action === 'delete') return current === undefined;
      if (c.action === 'update' && recordKey(c.old) !== recordKey(c.record)) {
        if (now.get(recordKey(c.old))) return false;
      }
      return current !== undefined && sameRecord(current, c.record);
    };
    const rest: Change[][] = [];
    for (const group of groups) {
      if (group.every(holds)) landing.result.applied.push(...group);
      else rest.push(group);
    }
    return rest;
  }

  /** One POST /records of the groups' changes, shaped by /adjustendpoints first. */
  private async post(zone: Zone, groups: Change[][]): Promise<PostOutcome> {
    const changes = groups.flat();
    const adjusted = await this.adjust(zone, changes);
    if (!adjusted.ok) return adjusted;
    const body: Required<WebhookChanges> = { create: [], updateOld: [], updateNew: [], delete: [] };
    const writes: Array<[key: string, Written]> = [];
    for (const c of changes) {
      const key = recordKey(c.record);
      if (c.action === 'delete') {
        body.delete.push(this.exact(zone, c.record));
        continue;
      }
      const ep = adjusted.endpoints.get(key)!;
      writes.push([key, { desired: c.record, stored: fromEndpoint(ep) ?? c.record }]);
      if (c.action === 'create') body.create.push(ep);
      else if (recordKey(c.old) === key) {
        body.updateOld.push(this.exact(zone, c.old));
        body.updateNew.push(ep);
      } else {
        body.delete.push(this.exact(zone, c.old));
        body.create.push(ep);
      }
    }
    const res = await this.http.request({
      operation: 'ApplyChanges',
      method: 'POST',
      path: 'records',
      body,
      headers: { 'Content-Type': MEDIA_TYPE },
      // Not resent blindly: a POST answered with an error is settled by listing.
      retry: 'unsent',
    });
    if (res.status < 200 || res.status >= 300)
      return { ok: false, error: this.refusal(res, 'POST /records') };
    for (const [key, w] of writes) this.written.set(key, w);
    for (const c of changes) if (c.action === 'delete') this.written.delete(recordKey(c.record));
    return { ok: true };
  }

  /**
   * What the provider makes of the records about to be written (`POST /adjustendpoints`),
   * by record key. Each is sent with the provider-specific properties its set has now.
   */
  private async adjust(
    zone: Zone,
    changes: Change[],
  ): Promise<
    { ok: true; endpoints: Map<string, WebhookEndpoint> } | { ok: false; error: ProviderError }
  > {
    const wanted = changes.flatMap((c) => {
      if (c.action === 'delete') return [];
      const key = recordKey(c.action === 'update' ? c.old : c.record);
      const before = this.listed.get(zone.name)?.get(key);
      return [toEndpoint(c.record, before?.providerSpecific)];
    });
    const endpoints = new Map<string, WebhookEndpoint>();
    if (wanted.length === 0) return { ok: true, endpoints };
    const res = await this.http.request({
      operation: 'AdjustEndpoints',
      method: 'POST',
      path: 'adjustendpoints',
      body: wanted,
      headers: { 'Content-Type': MEDIA_TYPE },
    });
    if (res.status !== 200) return { ok: false, error: this.refusal(res, 'POST /adjustendpoints') };
    for (const ep of this.http.json<WebhookEndpoint[] | null>(res, 'POST /adjustendpoints') ?? []) {
      endpoints.set(
        recordKey({ name: normalizeName(ep.dnsName), type: ep.recordType as RecordSet['type'] }),
        ep,
      );
    }
    const dropped = wanted.filter(
      (ep) =>
        !endpoints.has(recordKey({ name: ep.dnsName, type: ep.recordType as RecordSet['type'] })),
    );
    if (dropped.length > 0) {
      const names = dropped.map((ep) => `${ep.dnsName}/${ep.recordType}`).join(', ');
      return {
        ok: false,
        error: new ProviderError(
          `POST /adjustendpoints: ${this.http.url} dropped ${names} (it will not store them)`,
          PROVIDER,
          'Dropped',
          false,
        ),
      };
    }
    return { ok: true, endpoints };
  }

  /** A set as the provider listed it, when it still matches; else as this side writes it. */
  private exact(zone: Zone, record: RecordSet): WebhookEndpoint {
    const key = recordKey(record);
    const ep = this.listed.get(zone.name)?.get(key);
    const listed = ep && this.asWritten(key, fromEndpoint(ep));
    if (ep && listed && sameRecord(listed, record)) return ep;
    const w = this.written.get(key);
    return toEndpoint(w && sameRecord(w.desired, record) ? w.stored : record);
  }

  /**
   * A listed record in the form this provider asked for, when the provider stores it as
   * /adjustendpoints said it would: so a set the provider adjusts (a TTL it rounds, say)
   * does not look changed to the planner at every resync.
   */
  private asWritten(key: string, listed: RecordSet | undefined): RecordSet | undefined {
    const w = this.written.get(key);
    return listed && w && sameRecord(listed, w.stored) ? w.desired : listed;
  }

  /** The zone's record sets as the provider lists them now (`GET /records`). */
  private async table(zone: Zone): Promise<RecordTable> {
    const zones = await this.zones();
    const { exclude } = await this.negotiate();
    const res = await this.http.request({ operation: 'Records', method: 'GET', path: 'records' });
    if (res.status !== 200) throw this.refusal(res, 'GET /records');
    const endpoints = this.http.json<WebhookEndpoint[] | null>(res, 'GET /records') ?? [];
    const table = new RecordTable();
    const listed = new Map<string, WebhookEndpoint>();
    for (const ep of endpoints) {
      const record = fromEndpoint(ep);
      if (!record || underAny(record.name, exclude)) continue;
      if (mostSpecificZone(record.name, zones)?.name !== zone.name) continue;
      const key = recordKey(record);
      listed.set(key, ep);
      table.put(this.asWritten(key, record)!);
    }
    this.listed.set(zone.name, listed);
    this.snapshots.set(zone.name, { table, at: Date.now() });
    return table;
  }

  private negotiate(): Promise<{ include: string[]; exclude: string[] }> {
    this.negotiated ??= (async () => {
      const res = await this.http.request({ operation: 'Negotiate', method: 'GET', path: '' });
      if (res.status !== 200) throw this.refusal(res, 'negotiating (GET /)');
      const type = String(res.headers['content-type'] ?? '')
        .replace(/\s/g, '')
        .toLowerCase();
      if (type !== MEDIA_TYPE.toLowerCase()) {
        throw new ProviderError(
          `negotiating (GET /): ${this.http.url} answered Content-Type "${res.headers['content-type'] ?? ''}", not ${MEDIA_TYPE}: is it an external-dns webhook provider?`,
          PROVIDER,
          'WrongMediaType',
          false,
        );
      }
      const domains = filterDomains(
        this.http.json<WebhookDomainFilter>(res, 'negotiating (GET /)'),
      );
      this.log.info(domains, 'webhook provider negotiated');
      return domains;
    })();
    // A failed negotiation is asked again next time, not remembered.
    this.negotiated.catch(() => {
      this.negotiated = undefined;
    });
    return this.negotiated;
  }

  /** A non-2xx answer as a ProviderError naming the call, the status and the body. */
  private refusal(res: HttpResponse, what: string): ProviderError {
    return new ProviderError(
      `${what}: ${this.http.url} answered HTTP ${res.status}: ${brief(res.body)}`,
      PROVIDER,
      `HTTP${res.status}`,
      res.status >= 500 || res.status === 429,
    );
  }
}
