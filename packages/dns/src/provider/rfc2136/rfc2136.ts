// A Provider for any server that takes RFC 2136 dynamic updates and allows AXFR: BIND9,
// PowerDNS, Knot, Windows DNS. Zone contents come from AXFR, changes go out as UPDATE
// messages (one per group, so a refused group fails alone), all TSIG-signed when a key is
// configured.
import { randomInt } from 'node:crypto';
import { type Logger, silentLogger } from '@chousei/runtime';
import { type Change, normalizeName, type RecordSet, recordKey, type Zone } from '../../records.js';
import { startRequest } from '../metrics.js';
import {
  type ApplyResult,
  changeGroups,
  type Provider,
  type ProviderCapabilities,
  ProviderError,
  type ValueEdit,
  WRITABLE_TYPES,
} from '../provider.js';
import { axfrRequest, transferEnd, transferRecords } from './axfr.js';
import { DnsTransport, NetworkError } from './transport.js';
import {
  sign,
  TsigError,
  type TsigKey,
  TsigVerifier,
  tsigSecretProblem,
  verifyReply,
} from './tsig.js';
import { buildPostcheck, buildUpdate, buildValueEdit, InvalidChangeError } from './update.js';
import { rcodeName, readHeader, WireError } from './wire.js';

const PROVIDER = 'rfc2136';

export interface RFC2136Options {
  /** Server address (primary, or whichever server forwards updates to it). */
  host: string;
  /** Default 53. */
  port?: number;
  /**
   * Zones this provider manages: RFC 2136 has no way to list them. Unset: zones() lists
   * none and any zone a caller names is used (found some other way, e.g. by SOA queries);
   * the server refuses zones it does not serve.
   */
  zones?: string[];
  /** Key for TSIG; without one requests go unsigned (only for servers that allow that). */
  tsig?: TsigKey;
  /** Per request attempt (idle time for AXFR). Default 5000. */
  timeoutMs?: number;
  /** Attempts per request on network failures. Default 3. */
  attempts?: number;
  /** UPDATE messages in flight at once. Default 4. */
  concurrency?: number;
  /** TTLs below this are raised to it when written. */
  minTTL?: number;
  logger?: Logger;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8 } as const;

/** Why the server refused an update, in words, by rcode. */
const REFUSAL: Record<string, string> = {
  YXDOMAIN: 'the name is already in use (a CNAME needs its name to itself)',
  YXRRSET: 'a record set that must not exist does (the record itself, or a CNAME at its name)',
  NXRRSET: 'a record set to change or delete does not exist with the given values',
  REFUSED:
    'the server refused it (update policy, an unsigned request, or an integrity check such as an in-zone MX target without an address)',
  NOTAUTH: 'the server is not authoritative for the zone or did not accept the key',
  NOTZONE: 'a name is outside the zone',
  SERVFAIL: 'the server failed to apply it',
  FORMERR: 'the server could not parse the request',
  NOTIMP: 'the server does not take dynamic updates',
};

const describeGroup = (group: Change[]) =>
  group.map((c) => `${c.action} ${recordKey(c.record)}`).join(', ');

function namesOf(group: Change[]): string[] {
  const names = group.flatMap((c) =>
    c.action === 'update' ? [c.old.name, c.record.name] : [c.record.name],
  );
  return [...new Set(names)];
}

/** At most `n` tasks at once. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to a waiter, so a newcomer cannot slip in between.
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

export class RFC2136Provider implements Provider {
  readonly name = PROVIDER;
  readonly capabilities: ProviderCapabilities = {
    maxChangesPerCall: 1000,
    recordTypes: WRITABLE_TYPES,
    alias: false,
  };
  /** Undefined: any zone. */
  private readonly zoneNames: string[] | undefined;
  private readonly transport: DnsTransport;
  private readonly tsig: TsigKey | undefined;
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly minTTL: number | undefined;

  constructor(opts: RFC2136Options) {
    const blank = opts.tsig && tsigSecretProblem(opts.tsig.secret);
    if (blank) {
      throw new ProviderError(
        `TSIG key "${opts.tsig?.name}": the secret ${blank}`,
        PROVIDER,
        'BADKEY',
        false,
      );
    }
    this.zoneNames = opts.zones && [...new Set(opts.zones.map(normalizeName))];
    this.tsig = opts.tsig;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    this.minTTL = opts.minTTL;
    const port = opts.port ?? 53;
    // The key's name and algorithm only: the secret never goes near a log line.
    this.log = (opts.logger ?? silentLogger).child({
      provider: PROVIDER,
      server: `${opts.host}:${port}`,
      tsigKey: opts.tsig ? `${opts.tsig.name} (${opts.tsig.algorithm})` : 'none',
    });
    this.transport = new DnsTransport({
      host: opts.host,
      port,
      timeoutMs: opts.timeoutMs,
      attempts: opts.attempts,
      onRetry: (err, attempt) =>
        this.log.warn(
          { err: err.message, code: err.code, attempt },
          'DNS request failed, retrying',
        ),
    });
  }

  async zones(): Promise<Zone[]> {
    return (this.zoneNames ?? []).map((name) => ({ id: name, name }));
  }

  async records(zone: Zone, signal?: AbortSignal): Promise<RecordSet[]> {
    const name = this.zoneName(zone);
    const request = this.sign(axfrRequest(name, randomInt(0x10000)));
    const done = startRequest(PROVIDER, 'axfr');
    try {
      const { tsig } = this;
      const check =
        tsig && request.mac
          ? (stream: Buffer[]) => {
              const verifier = new TsigVerifier(tsig, request.mac!);
              for (const reply of stream) verifier.verify(reply);
              verifier.finish();
            }
          : undefined;
      const { result: replies } = await this.transport.stream(
        request.wire,
        transferEnd(),
        check,
        signal,
      );
      const rcode = readHeader(replies.at(-1)!).rcode;
      if (rcode !== RCODE.NOERROR) {
        const code = rcodeName(rcode);
        const hint =
          code === 'REFUSED' || code === 'NOTAUTH' ? ' (is AXFR allowed for this key?)' : '';
        throw new ProviderError(
          `AXFR of ${name} refused with ${code}${hint}`,
          PROVIDER,
          code,
          rcode === RCODE.SERVFAIL,
        );
      }
      const records = transferRecords(name, replies, this.capabilities.recordTypes);
      done('success');
      this.log.debug({ zone: name, messages: replies.length, records: records.length }, 'AXFR');
      return records;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const e = this.providerError(`AXFR of ${name}`, err);
      done(resultLabel(e));
      throw e;
    }
  }

  async apply(zone: Zone, changes: Change[], signal?: AbortSignal): Promise<ApplyResult> {
    const name = this.zoneName(zone);
    const groups = changeGroups(changes);
    const errors: Array<Error | undefined> = [];
    let unreachable: ProviderError | undefined;
    // A key the server rejects (a verified TSIG error) fails every group the same way, and
    // so does a secret whose replies never verify (the server's BADSIG is unsigned): said
    // without sending them. Replies that failed to verify on every attempt stop no more than
    // an unreachable server does (they may be forged), and are retryable like it.
    let rejectedKey: ProviderError | undefined;

    const limit = limiter(this.concurrency);
    // Groups that touch the same name go in order, as the caller listed them (a delete
    // of an A record before the create of a CNAME in its place).
    const lastByName = new Map<string, Promise<void>>();
    const tasks = groups.map((group, i) => {
      const names = namesOf(group);
      const before = names.flatMap((n) => lastByName.get(n) ?? []);
      const task = (async () => {
        await Promise.all(before);
        errors[i] = await limit(async () => {
          const stop = unreachable ?? rejectedKey;
          if (stop) return stop;
          try {
            await this.applyGroup(name, group, signal);
            return undefined;
          } catch (err) {
            const e = err instanceof ProviderError ? err : this.providerError('UPDATE', err);
            if (e.retryable && e.cause instanceof NetworkError) unreachable ??= e;
            else if (e.cause instanceof TsigError) rejectedKey ??= e;
            return e;
          }
        });
      })();
      for (const n of names) lastByName.set(n, task);
      return task;
    });
    await Promise.all(tasks);
    // Cancelled: the caller reads the zone again rather than trust a partial outcome.
    signal?.throwIfAborted();
    if (unreachable) throw unreachable;

    const result: ApplyResult = { applied: [], failed: [] };
    groups.forEach((group, i) => {
      const error = errors[i];
      if (error) for (const change of group) result.failed.push({ change, error });
      else result.applied.push(...group);
    });
    return result;
  }

  async editValue(zone: Zone, edit: ValueEdit, signal?: AbortSignal): Promise<void> {
    const name = this.zoneName(zone);
    let request: Buffer;
    try {
      request = buildValueEdit(name, edit, randomInt(0x10000), { minTTL: this.minTTL });
    } catch (err) {
      if (!(err instanceof InvalidChangeError)) throw err;
      throw new ProviderError(err.message, PROVIDER, 'InvalidChange', false, { cause: err });
    }
    const what = `${edit.op} ${edit.name} ${edit.type} value`;
    const { rcode } = await this.update(request, signal).catch((err: unknown) => {
      throw signal?.aborted ? signal.reason : err;
    });
    if (rcode === RCODE.NOERROR) return;
    const code = rcodeName(rcode);
    throw new ProviderError(
      `UPDATE in ${name} refused with ${code}: ${REFUSAL[code] ?? 'refused by the server'} [${what}]`,
      PROVIDER,
      code,
      rcode === RCODE.SERVFAIL,
    );
  }

  /** Sends one group as one UPDATE; throws ProviderError when it did not apply. */
  private async applyGroup(
    zone: string,
    group: Change[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let request: Buffer;
    try {
      request = buildUpdate(zone, group, randomInt(0x10000), { minTTL: this.minTTL });
    } catch (err) {
      if (!(err instanceof InvalidChangeError)) throw err;
      throw new ProviderError(err.message, PROVIDER, 'InvalidChange', false, { cause: err });
    }
    const { rcode, attempts } = await this.update(request, signal);
    if (rcode === RCODE.NOERROR) {
      this.log.debug({ zone, changes: describeGroup(group) }, 'UPDATE applied');
      return;
    }
    // A retried update may have landed on an earlier attempt whose reply was lost; then
    // its own prerequisites now fail. Ask whether the zone is as the group would leave it.
    const prereqFailure =
      rcode === RCODE.YXDOMAIN || rcode === RCODE.YXRRSET || rcode === RCODE.NXRRSET;
    if (attempts > 1 && prereqFailure) {
      const check = await this.update(buildPostcheck(zone, group, randomInt(0x10000)), signal);
      if (check.rcode === RCODE.NOERROR) {
        this.log.info(
          { zone, changes: describeGroup(group) },
          'UPDATE applied by an earlier attempt',
        );
        return;
      }
    }
    const code = rcodeName(rcode);
    this.log.info({ zone, changes: describeGroup(group), rcode: code }, 'UPDATE refused');
    throw new ProviderError(
      `UPDATE in ${zone} refused with ${code}: ${REFUSAL[code] ?? 'refused by the server'} [${describeGroup(group)}]`,
      PROVIDER,
      code,
      rcode === RCODE.SERVFAIL,
    );
  }

  /** Signs, sends and verifies one UPDATE; returns the server's rcode. */
  private async update(
    message: Buffer,
    signal: AbortSignal | undefined,
  ): Promise<{ rcode: number; attempts: number }> {
    const request = this.sign(message);
    const done = startRequest(PROVIDER, 'update');
    try {
      const { tsig } = this;
      const { result: reply, attempts } = await this.transport.exchange(
        request.wire,
        tsig && request.mac
          ? { check: (r) => verifyReply(r, tsig, request.mac!), signal }
          : { signal },
      );
      const { rcode } = readHeader(reply);
      done(rcode === RCODE.NOERROR ? 'success' : rcodeName(rcode));
      return { rcode, attempts };
    } catch (err) {
      const e = this.providerError('UPDATE', err);
      done(resultLabel(e));
      throw e;
    }
  }

  private sign(message: Buffer): { wire: Buffer; mac?: Buffer } {
    return this.tsig ? sign(message, this.tsig) : { wire: message };
  }

  private zoneName(zone: Zone): string {
    const name = normalizeName(zone.name);
    if (this.zoneNames && !this.zoneNames.includes(name)) {
      throw new ProviderError(
        `zone ${name} is not one of this provider's zones`,
        PROVIDER,
        'NoSuchZone',
        false,
      );
    }
    return name;
  }

  /** Maps a failure to a ProviderError that says what went wrong and whether to retry. */
  private providerError(what: string, err: unknown): ProviderError {
    if (err instanceof ProviderError) return err;
    if (err instanceof NetworkError) {
      return new ProviderError(
        `${what}: DNS server unreachable: ${err.message}`,
        PROVIDER,
        err.code,
        true,
        {
          cause: err,
        },
      );
    }
    if (err instanceof TsigError) {
      // Only a verified error is the server's verdict; anything else may pass.
      return new ProviderError(`${what}: ${err.message}`, PROVIDER, err.code, !err.byServer, {
        cause: err,
      });
    }
    if (err instanceof WireError) {
      return new ProviderError(
        `${what}: malformed reply: ${err.message}`,
        PROVIDER,
        'FORMERR',
        true,
        {
          cause: err,
        },
      );
    }
    const message = err instanceof Error ? err.message : String(err);
    return new ProviderError(`${what}: ${message}`, PROVIDER, 'Unknown', false, { cause: err });
  }
}

/** The metrics result of a failed request: the rcode it was refused with, else `error`. */
function resultLabel(e: ProviderError): string {
  return e.cause === undefined ? e.code : 'error';
}
