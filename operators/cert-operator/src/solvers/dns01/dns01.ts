import { resolve4, resolve6, resolveCname, resolveNs } from 'node:dns/promises';
import {
  type Change,
  inZone,
  normalizeName,
  type Provider,
  ProviderError,
  type RecordSet,
  type Zone,
} from '@chousei/dns';
import { type Logger, silentLogger, sleep, withRetry } from '@chousei/runtime';
import { IssuanceError } from '../../issuance.js';
import { dnsErrorCode, type Nameserver, nameserverAddress, queryServers } from '../resolver.js';
import { fixedPacing, waitForSelfCheck } from '../self-check.js';
import type { Challenge, Solver } from '../solver.js';

export interface DNS01SolverOptions {
  /** Where the `_acme-challenge` TXT records are written. */
  provider: Provider;
  /**
   * The zone holding a record name, for a provider that cannot list its zones (see
   * soaZoneFinder). Default: the most specific of the provider's zones.
   */
  findZone?: (fqdn: string) => Promise<Zone>;
  /** TTL of a challenge record set this solver creates. Default 60. */
  ttl?: number;
  /** Wait in present() until every authoritative server answers the value. Default true. */
  selfCheck?: boolean;
  /** Authoritative servers to check. Default: the zone's NS records, via the system resolver. */
  nameservers?: Nameserver[];
  /**
   * Follow a CNAME at `_acme-challenge.<name>` and write the TXT where it leads (cert-manager's
   * `cnameStrategy: Follow`), asking `nameservers` (default: the system resolver).
   */
  followCname?: { nameservers?: Nameserver[] };
  /** Longest wait for the value to reach every server. Default 120 s. */
  propagationTimeoutMs?: number;
  /** Between self-check rounds. Default 2 s. */
  pollIntervalMs?: number;
  logger?: Logger;
}

/** Read-modify-write rounds before giving up on a record set other writers keep changing. */
const MAX_WRITE_ATTEMPTS = 5;
/** A refused zone read or write the service may accept later (SERVFAIL, 5xx, a lost reply). */
const TRANSIENT_RETRIES = { maxRetries: 4, backoff: { initialMs: 200, maxMs: 3000 } };
/** CNAMEs followed from `_acme-challenge.<name>` before giving up (resolvers stop near 8). */
const MAX_CNAME_HOPS = 8;

interface Server {
  host: string;
  port: number;
  /** NS name it was found under, for messages. */
  name?: string;
}

/**
 * Answers DNS-01 challenges by adding the digest to the TXT record set
 * `_acme-challenge.<name>` through a @chousei/dns Provider, next to any values already
 * there (a wildcard and its base name share the set; other clients may use it too), and
 * removing exactly that value afterwards.
 */
export class DNS01Solver implements Solver {
  readonly type = 'dns-01' as const;
  private readonly provider: Provider;
  private readonly findZone: ((fqdn: string) => Promise<Zone>) | undefined;
  private readonly ttl: number;
  private readonly selfCheck: boolean;
  private readonly nameservers: Server[] | undefined;
  private readonly propagationTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly followCname: { nameservers?: Nameserver[] } | undefined;
  private readonly log: Logger;
  /** Serialises this solver's writes per record set; the provider's checks cover other writers. */
  private readonly locks = new Map<string, Promise<void>>();
  /** A zone read in flight, shared by the challenges that need one meanwhile. */
  private readonly reads = new Map<string, { startedAt: number; records: Promise<RecordSet[]> }>();
  /** When this solver last wrote each record set: a shared read must be younger. */
  private readonly writtenAt = new Map<string, number>();

  constructor(opts: DNS01SolverOptions) {
    this.provider = opts.provider;
    this.findZone = opts.findZone;
    this.ttl = opts.ttl ?? 60;
    this.selfCheck = opts.selfCheck ?? true;
    this.nameservers = opts.nameservers?.map((s) => ({ host: s.host, port: s.port ?? 53 }));
    this.propagationTimeoutMs = opts.propagationTimeoutMs ?? 120_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 2000;
    this.followCname = opts.followCname;
    this.log = (opts.logger ?? silentLogger).child({
      solver: 'dns-01',
      provider: opts.provider.name,
    });
  }

  async present(ch: Challenge): Promise<void> {
    const fqdn = await this.challengeRecord(ch.identifier);
    const zone = await this.zoneFor(fqdn);
    await this.modify(zone, fqdn, 'add', ch.keyAuthorization);
    this.log.info({ record: fqdn, zone: zone.name }, 'challenge TXT value added');
    if (this.selfCheck) await this.waitForPropagation(zone, fqdn, ch);
  }

  async cleanUp(ch: Challenge): Promise<void> {
    const fqdn = await this.challengeRecord(ch.identifier);
    const zone = await this.zoneFor(fqdn);
    await this.modify(zone, fqdn, 'remove', ch.keyAuthorization);
    this.log.info({ record: fqdn, zone: zone.name }, 'challenge TXT value removed');
  }

  /** Where the TXT goes: `_acme-challenge.<name>`, or where its CNAMEs lead when followed. */
  private async challengeRecord(identifier: string): Promise<string> {
    const name = recordName(identifier);
    if (!this.followCname) return name;
    const servers = this.followCname.nameservers;
    const seen = [name];
    for (;;) {
      const current = seen.at(-1)!;
      let targets: string[];
      try {
        targets = servers?.length
          ? await queryServers(servers, (r) => r.resolveCname(current), 2)
          : await resolveCname(current);
      } catch (err) {
        const code = dnsErrorCode(err);
        // No CNAME there (no such name, or other records only): the chain ends here.
        if (code === 'ENOTFOUND' || code === 'ENODATA') break;
        throw new IssuanceError(
          'DNSLookupFailed',
          `looking up a CNAME at ${current} (cnameStrategy Follow): ${code}`,
          true,
          undefined,
          { cause: err },
        );
      }
      const next = targets[0] && normalizeName(targets[0]);
      if (!next) break;
      if (seen.includes(next) || seen.length > MAX_CNAME_HOPS) {
        throw new IssuanceError(
          'DNSLookupFailed',
          `the CNAMEs from ${name} loop or go on too long: ${[...seen, next].join(' -> ')}`,
          false,
        );
      }
      seen.push(next);
    }
    if (seen.length > 1) this.log.info({ cnames: seen }, 'following the challenge CNAME');
    return seen.at(-1)!;
  }

  /**
   * The zone holding `fqdn`: as findZone says, else the provider's most specific one, a
   * public one over a private.
   */
  private async zoneFor(fqdn: string): Promise<Zone> {
    if (this.findZone) return this.findZone(fqdn);
    const zones = (await this.provider.zones()).filter((z) => inZone(fqdn, normalizeName(z.name)));
    zones.sort(
      (a, b) => b.name.length - a.name.length || Number(!!a.private) - Number(!!b.private),
    );
    const zone = zones[0];
    if (!zone) {
      throw new IssuanceError(
        'NoDNSZone',
        `no zone of DNS provider ${this.provider.name} holds ${fqdn}`,
        false,
      );
    }
    return zone;
  }

  /**
   * Adds or removes one value of the TXT set at `fqdn`: in one request where the provider
   * edits single values (RFC2136), else by reading the set and writing it back. Each such
   * write states the set as read (`update`/`delete` of the exact old values, `create` only
   * when absent), so a write that raced another is refused rather than dropping its value;
   * then we read and try again. Transient refusals are retried within the attempt.
   */
  private async modify(
    zone: Zone,
    fqdn: string,
    op: 'add' | 'remove',
    value: string,
  ): Promise<void> {
    const transient = (err: unknown) => err instanceof ProviderError && err.retryable;
    const { editValue } = this.provider;
    if (editValue) {
      const edit = { op, name: fqdn, type: 'TXT' as const, ttl: this.ttl, value };
      await withRetry(() => editValue.call(this.provider, zone, edit), {
        ...TRANSIENT_RETRIES,
        retryable: transient,
      }).catch((err: unknown) => {
        throw this.updateError(op, fqdn, zone, err);
      });
      return;
    }
    const key = `${zone.id}/${fqdn}`;
    await this.locked(key, async () => {
      for (let attempt = 1; ; attempt++) {
        let failure: Error | undefined;
        try {
          const records = await withRetry(() => this.read(zone, this.writtenAt.get(key) ?? 0), {
            ...TRANSIENT_RETRIES,
            retryable: transient,
          });
          const current = records.find((r) => r.type === 'TXT' && normalizeName(r.name) === fqdn);
          const change = this.changeFor(fqdn, current, op, value);
          if (!change) return;
          failure = (await this.provider.apply(zone, [change])).failed[0]?.error;
          this.writtenAt.set(key, performance.now());
        } catch (err) {
          // Thrown only when the service could not be reached (after its own retries).
          throw this.updateError(op, fqdn, zone, err);
        }
        if (!failure) return;
        if (attempt >= MAX_WRITE_ATTEMPTS) throw this.updateError(op, fqdn, zone, failure);
        this.log.debug(
          { record: fqdn, attempt, err: failure.message },
          'TXT write refused, reading the record set again',
        );
        await sleep(50 * attempt + Math.random() * 100);
      }
    });
  }

  /**
   * The zone's records from a read that started after `since` (the set's last write here):
   * challenges at once share one read (a zone transfer each met BIND9's transfer limit at 50).
   */
  private read(zone: Zone, since: number): Promise<RecordSet[]> {
    const shared = this.reads.get(zone.id);
    if (shared && shared.startedAt >= since) return shared.records;
    const entry = { startedAt: performance.now(), records: this.provider.records(zone) };
    this.reads.set(zone.id, entry);
    const forget = () => {
      if (this.reads.get(zone.id) === entry) this.reads.delete(zone.id);
    };
    entry.records.then(forget, forget);
    return entry.records;
  }

  private changeFor(
    fqdn: string,
    current: RecordSet | undefined,
    op: 'add' | 'remove',
    value: string,
  ): Change | undefined {
    const values = current?.values ?? [];
    if (op === 'add') {
      if (values.includes(value)) return undefined;
      const record: RecordSet = {
        name: fqdn,
        type: 'TXT',
        // An existing set keeps its TTL: its other values are not ours to change.
        ttl: current?.ttl ?? this.ttl,
        values: [...values, value],
      };
      return current ? { action: 'update', old: current, record } : { action: 'create', record };
    }
    if (!current || !values.includes(value)) return undefined;
    const rest = values.filter((v) => v !== value);
    if (rest.length === 0) return { action: 'delete', record: current };
    return { action: 'update', old: current, record: { ...current, values: rest } };
  }

  private updateError(op: string, fqdn: string, zone: Zone, err: unknown): IssuanceError {
    const message = err instanceof Error ? err.message : String(err);
    const what =
      op === 'add' ? 'adding the challenge value to' : 'removing the challenge value from';
    // A refused write may succeed later (contention, a policy fixed meanwhile): only a zone
    // the provider does not have stays wrong until the configuration changes.
    const retryable = !(err instanceof ProviderError && err.code === 'NoSuchZone');
    return new IssuanceError(
      'DNSUpdateFailed',
      `${what} TXT ${fqdn} in zone ${zone.name} failed: ${message}`,
      retryable,
      undefined,
      { cause: err },
    );
  }

  /** Polls every authoritative server until each answers the challenge value at `fqdn`. */
  private async waitForPropagation(zone: Zone, fqdn: string, ch: Challenge): Promise<void> {
    let missing: Server[] | undefined;
    const lastError = new Map<Server, string>();
    await waitForSelfCheck(ch, {
      type: 'DNS-01',
      // Re-asks only the servers that have not answered the value yet.
      check: async () => {
        // Looked up in the first check, so that the lookup counts against the timeout.
        missing ??= this.nameservers ?? (await this.authoritativeServers(zone.name));
        const seen = await Promise.all(
          missing.map(async (s) => {
            const answer = await lookupTxt(s, fqdn);
            if (typeof answer === 'string') lastError.set(s, answer);
            return Array.isArray(answer) && answer.includes(ch.keyAuthorization);
          }),
        );
        missing = missing.filter((_, i) => !seen[i]);
        if (missing.length === 0) return undefined;
        return missing
          .map((s) => {
            const err = lastError.get(s);
            return `${serverLabel(s)}${err ? ` (${err})` : ''}`;
          })
          .join(', ');
      },
      timeoutMs: this.propagationTimeoutMs,
      pacing: fixedPacing(this.pollIntervalMs),
      pending: (list) => `TXT ${fqdn} not answered yet by ${list}`,
      awaited: 'every authoritative server answers it',
      passed: `every authoritative server answers TXT ${fqdn}`,
      timeoutReason: 'PropagationTimeout',
      timedOut: (list, s) => `TXT ${fqdn} value not answered by ${list} after ${s}s`,
      logPassed: ({ ms }) => this.log.info({ record: fqdn, ms }, 'challenge TXT value propagated'),
    });
  }

  /** The zone's NS addresses, looked up through the system resolver. */
  private async authoritativeServers(zone: string): Promise<Server[]> {
    let names: string[];
    try {
      names = await resolveNs(zone);
    } catch (err) {
      throw new IssuanceError(
        'PropagationCheckFailed',
        `looking up the nameservers of ${zone}: ${(err as Error).message}`,
        true,
        undefined,
        { cause: err },
      );
    }
    const servers = await Promise.all(
      names.map(async (name) => {
        const addrs = [
          ...(await resolve4(name).catch(() => [])),
          ...(await resolve6(name).catch(() => [])),
        ];
        return addrs.map((host) => ({ host, port: 53, name }));
      }),
    );
    const all = servers.flat();
    if (all.length === 0) {
      throw new IssuanceError(
        'PropagationCheckFailed',
        `no addresses for the nameservers of ${zone} (${names.join(', ') || 'none'})`,
        true,
      );
    }
    return all;
  }

  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = before.then(() => new Promise<void>((resolve) => (release = resolve)));
    this.locks.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

/** `_acme-challenge.<name>`; a wildcard is validated at its base name (RFC 8555 8.4). */
export function recordName(identifier: string): string {
  const name = normalizeName(identifier);
  return `_acme-challenge.${name.startsWith('*.') ? name.slice(2) : name}`;
}

function serverLabel(s: Server): string {
  const addr = nameserverAddress(s);
  return s.name ? `${s.name} (${addr})` : addr;
}

/** The TXT values one server answers (strings joined), or its error code. */
async function lookupTxt(s: Server, fqdn: string): Promise<string[] | string> {
  try {
    const records = await queryServers([s], (r) => r.resolveTxt(fqdn));
    return records.map((chunks) => chunks.join(''));
  } catch (err) {
    return dnsErrorCode(err);
  }
}
