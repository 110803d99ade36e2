// PowerDNS Authoritative Server through its HTTP API (/api/v1): zones listed, a zone's
// rrsets read in one GET, changes written as one PATCH of REPLACE/DELETE rrset operations
// (transactional: all or none), authenticated by X-API-Key.
import type { BackoffOptions, Logger } from '@chousei/runtime';
import { silentLogger } from '@chousei/runtime';
import { type Change, normalizeName, type RecordSet, type Zone } from '../../records.js';
import {
  brief,
  type HttpResponse,
  HttpService,
  type HttpServiceStats,
  type HttpTlsOptions,
  retryableStatus,
} from '../http.js';
import { unescapeText } from '../presentation.js';
import {
  type ApplyResult,
  type Provider,
  type ProviderCapabilities,
  ProviderError,
  resendParts,
  WRITABLE_TYPES,
} from '../provider.js';
import { applyStrictly, RecordTable, strictBatches, touchedSets } from '../rules.js';
import {
  fromPdns,
  type PdnsRRSet,
  type PdnsRRSetChange,
  type PdnsZone,
  toPdnsChange,
} from './convert.js';

const PROVIDER = 'pdns';
/** Names an apply may touch and still read them by search rather than the whole zone. */
const SEARCH_NAMES = 16;
/** Hits one search may return; a search that fills it may be incomplete. */
const SEARCH_LIMIT = 1000;

/** One hit of `GET search-data` with object_type record. */
interface PdnsSearchHit {
  object_type: string;
  name: string;
  type: string;
  ttl: number;
  content: string;
  disabled: boolean;
  zone_id: string;
}

export interface PowerDNSProviderOptions {
  /** The webserver's URL, e.g. `http://pdns:8081` (external-dns's --pdns-server). */
  server: string;
  /** The API key (`api-key` in pdns.conf). */
  apiKey: string;
  /** The API's server id. Default `localhost`. */
  serverId?: string;
  /** Deadline of one request attempt. Default 30 s. */
  timeoutMs?: number;
  /** Retries of a request that failed for the network, a 5xx or 429. Default 3. */
  maxRetries?: number;
  backoff?: BackoffOptions;
  tls?: HttpTlsOptions;
  /** Rrset operations per PATCH. Default 1000. */
  maxChangesPerCall?: number;
  logger?: Logger;
}

type Outcome = { ok: true } | { ok: false; error: ProviderError };

export class PowerDNSProvider implements Provider {
  readonly name = PROVIDER;
  readonly capabilities: ProviderCapabilities;
  private readonly http: HttpService;
  private readonly serverPath: string;
  private readonly log: Logger;

  constructor(opts: PowerDNSProviderOptions) {
    this.capabilities = {
      maxChangesPerCall: opts.maxChangesPerCall ?? 1000,
      recordTypes: WRITABLE_TYPES,
      alias: false,
    };
    this.serverPath = `api/v1/servers/${encodeURIComponent(opts.serverId ?? 'localhost')}`;
    this.log = (opts.logger ?? silentLogger).child({ provider: PROVIDER, server: opts.server });
    this.http = new HttpService({
      provider: PROVIDER,
      baseUrl: opts.server,
      headers: { 'X-API-Key': opts.apiKey, Accept: 'application/json' },
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      logger: this.log,
    });
  }

  /** Requests sent, retries included, by operation: for tests and benchmarks. */
  get stats(): HttpServiceStats {
    return this.http.stats;
  }

  async zones(): Promise<Zone[]> {
    const res = await this.http.request({
      operation: 'ListZones',
      method: 'GET',
      path: `${this.serverPath}/zones`,
    });
    const zones = this.json<PdnsZone[]>(res, 'listing zones');
    return zones.map((z) => ({ id: z.id, name: normalizeName(z.name) }));
  }

  async records(zone: Zone): Promise<RecordSet[]> {
    return (await this.table(zone)).records();
  }

  /**
   * Checks every group against the sets it touches as they are now (PowerDNS overwrites and
   * deletes without asking: a create of a set that exists, a delete or update of one that
   * differs are refused here, as Route53 refuses them), then PATCHes the accepted groups, as few
   * PATCHes as the limit allows. A refused PATCH changed nothing: its groups are resent
   * in smaller PATCHes, down to one group alone, so one bad record fails alone. REPLACE
   * and DELETE are idempotent, so a PATCH retried after a lost reply is safe.
   */
  async apply(zone: Zone, changes: Change[]): Promise<ApplyResult> {
    const result: ApplyResult = { applied: [], failed: [] };
    const landed = await this.current(zone, changes);
    const batches = strictBatches(
      landed,
      zone,
      changes,
      PROVIDER,
      result,
      this.capabilities.maxChangesPerCall,
      (group) => touchedSets(group).length,
    );
    for (const batch of batches) await this.land(zone, landed, batch, result);
    if (result.failed.length > 0) {
      this.log.warn(
        { zone: zone.name, applied: result.applied.length, failed: result.failed.length },
        'pdns refused changes',
      );
    }
    return result;
  }

  /** Lands `groups` in one PATCH, or in smaller ones when PowerDNS refuses it. */
  private async land(
    zone: Zone,
    landed: RecordTable,
    groups: Change[][],
    result: ApplyResult,
  ): Promise<void> {
    const mark = landed.mark();
    const sendable: Change[][] = [];
    for (const group of groups) {
      try {
        // Checked before, but a group refused by the server since may have been its base.
        applyStrictly(landed, zone, group, PROVIDER);
        sendable.push(group);
      } catch (err) {
        for (const change of group) result.failed.push({ change, error: err as Error });
      }
    }
    const ops = touchedSets(sendable.flat()).map((s) =>
      toPdnsChange(s.name, s.type, landed.get(s.key)),
    );
    const outcome = ops.length ? await this.patch(zone, ops) : ({ ok: true } as const);
    if (outcome.ok) {
      landed.commit();
      for (const group of sendable) result.applied.push(...group);
      return;
    }
    landed.rollback(mark);
    if (sendable.length === 1 || !CONTENT_CODES.has(outcome.error.code)) {
      for (const group of sendable)
        for (const change of group) result.failed.push({ change, error: outcome.error });
      return;
    }
    this.log.debug(
      { zone: zone.name, groups: sendable.length, error: outcome.error.message },
      'PATCH refused, resending in smaller PATCHes',
    );
    for (const part of resendParts(sendable)) await this.land(zone, landed, part, result);
  }

  /** One PATCH; a refusal is returned, the server unreachable thrown. */
  private async patch(zone: Zone, rrsets: PdnsRRSetChange[]): Promise<Outcome> {
    const res = await this.http.request({
      operation: 'PatchZone',
      method: 'PATCH',
      path: `${this.zonePath(zone)}`,
      body: { rrsets },
      headers: { 'Content-Type': 'application/json' },
    });
    if (res.status === 204 || res.status === 200) return { ok: true };
    return { ok: false, error: this.refusal(res, `PATCH of zone ${zone.name}`) };
  }

  /** The zone's record sets the model holds, as PowerDNS has them now. */
  private async table(zone: Zone): Promise<RecordTable> {
    const res = await this.http.request({
      operation: 'GetZone',
      method: 'GET',
      path: this.zonePath(zone),
    });
    const body = this.json<PdnsZone>(res, `reading zone ${zone.name}`);
    const types = this.capabilities.recordTypes;
    return new RecordTable((body.rrsets ?? []).flatMap((rr) => fromPdns(rr, types) ?? []));
  }

  /**
   * The record sets `changes` touch, as PowerDNS has them now: for a few names, found with
   * one search each (`search-data`: the records of that name, in every type, for the CNAME
   * rule), which costs the same in a zone of ten records or a million; else the zone.
   */
  private async current(zone: Zone, changes: Change[]): Promise<RecordTable> {
    const names = [...new Set(touchedSets(changes).map((s) => s.name))];
    if (names.length > SEARCH_NAMES) return this.table(zone);
    const found = await Promise.all(names.map((name) => this.search(zone, name)));
    if (found.some((sets) => sets === undefined)) return this.table(zone);
    return new RecordTable(found.flatMap((sets) => sets ?? []));
  }

  /**
   * The record sets at `name` in `zone` (`GET search-data`, which matches names and
   * contents, `*` as a wildcard: what is not exactly this name is left out). Undefined when
   * the search hit its limit, so it may have missed some.
   */
  private async search(zone: Zone, name: string): Promise<RecordSet[] | undefined> {
    const query = new URLSearchParams({
      q: name,
      object_type: 'record',
      max: String(SEARCH_LIMIT),
    });
    const res = await this.http.request({
      operation: 'SearchData',
      method: 'GET',
      path: `${this.serverPath}/search-data?${query}`,
    });
    const hits = this.json<PdnsSearchHit[]>(res, `searching ${name} in zone ${zone.name}`);
    if (hits.length >= SEARCH_LIMIT) return undefined;
    const sets = new Map<string, PdnsRRSet>();
    for (const hit of hits) {
      if (hit.object_type !== 'record' || hit.zone_id !== zone.id) continue;
      if (normalizeName(unescapeText(hit.name, 10)) !== name) continue;
      const set = sets.get(hit.type) ?? {
        name: hit.name,
        type: hit.type,
        ttl: hit.ttl,
        records: [],
      };
      set.records.push({ content: hit.content, disabled: hit.disabled });
      sets.set(hit.type, set);
    }
    const types = this.capabilities.recordTypes;
    return [...sets.values()].flatMap((rr) => fromPdns(rr, types) ?? []);
  }

  private zonePath(zone: Zone): string {
    return `${this.serverPath}/zones/${encodeURIComponent(zone.id)}`;
  }

  /** A 2xx body as JSON; anything else thrown as the ProviderError it means. */
  private json<T>(res: HttpResponse, what: string): T {
    if (res.status < 200 || res.status >= 300) throw this.refusal(res, what);
    return this.http.json<T>(res, what);
  }

  /** A refusal as a ProviderError with PowerDNS's own message (`{"error": ...}`). */
  private refusal(res: HttpResponse, what: string): ProviderError {
    let message = brief(res.body);
    try {
      const parsed = JSON.parse(res.body) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
    } catch {}
    const codes: Record<number, [string, string]> = {
      400: ['BadRequest', ''],
      401: ['Unauthorized', ' (is the API key right?)'],
      403: ['Forbidden', ' (is the API key right?)'],
      404: ['NoSuchZone', ' (no such zone or server id)'],
      422: ['Unprocessable', ''],
    };
    const [code, hint] = codes[res.status] ?? [`HTTP${res.status}`, ''];
    // A 5xx or 429 came back through every retry: the server is failing, later may work.
    return new ProviderError(
      `${what}: ${this.http.url} refused with HTTP ${res.status}: ${message}${hint}`,
      PROVIDER,
      code,
      retryableStatus(res.status),
    );
  }
}

/** PowerDNS refused the PATCH for its content: resending groups apart can help. */
const CONTENT_CODES: ReadonlySet<string> = new Set(['BadRequest', 'Unprocessable']);
