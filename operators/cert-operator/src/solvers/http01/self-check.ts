import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, isIPv6 } from 'node:net';
import { type Logger, silentLogger } from '@chousei/runtime';
import { dnsErrorCode, type Nameserver, nameserverAddress, queryServers } from '../resolver.js';
import { growingPacing, waitForSelfCheck } from '../self-check.js';
import { type Challenge, type Solver, selfCheckPrefix } from '../solver.js';

export interface HTTP01SelfCheckOptions {
  /**
   * Port of `http` URLs that name none, the challenge URL's included: 80, where the CA
   * connects. Another one only where the CA is told so too (Pebble's httpPort in tests).
   */
  port?: number;
  /** Resolve names through these servers (split-horizon DNS); default the system resolver. */
  nameservers?: Nameserver[];
  /** Longest wait for the key authorization. Default 120 s. */
  timeoutMs?: number;
  /** First wait between checks, growing by half up to maxIntervalMs. Default 1 s. */
  intervalMs?: number;
  /** Default 5 s. */
  maxIntervalMs?: number;
  logger?: Logger;
}

const PREFIX = '/.well-known/acme-challenge/';
/** As many as Let's Encrypt follows. */
const MAX_REDIRECTS = 10;
/** Per request: a silent server is "not reachable yet", not a reason to stall. */
const REQUEST_TIMEOUT_MS = 5000;
/** A key authorization is under 100 bytes: a longer body is not one. */
const MAX_BODY_BYTES = 4096;
const USER_AGENT = 'chousei-cert-operator (HTTP-01 self-check)';

/** A response, redirects not followed. */
interface Answer {
  status: number;
  location?: string;
  body: string;
}

/** Something that kept a request from getting an answer: the message says what. */
class Unanswered extends Error {}

/**
 * Makes an HTTP-01 solver's present() return only once the challenge URL answers the key
 * authorization the way the CA will fetch it (its name resolved, port 80, redirects to http
 * or https followed), as cert-manager does before accepting a challenge. Asking the CA to
 * validate earlier (an Ingress's A record not published yet, the route not loaded by the
 * ingress controller) fails the order and backs the Certificate off. Until it answers, the
 * challenge's progress() tells what is seen; after the timeout, present() fails with it.
 */
export class HTTP01SelfCheckedSolver implements Solver {
  readonly type = 'http-01' as const;
  private readonly port: number;
  private readonly nameservers: Nameserver[] | undefined;
  private readonly timeoutMs: number;
  private readonly intervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly log: Logger;

  constructor(
    private readonly inner: Solver,
    opts: HTTP01SelfCheckOptions = {},
  ) {
    this.port = opts.port ?? 80;
    this.nameservers = opts.nameservers?.length ? opts.nameservers : undefined;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.maxIntervalMs = opts.maxIntervalMs ?? 5000;
    this.log = (opts.logger ?? silentLogger).child({ solver: 'http-01', check: 'self' });
  }

  async present(ch: Challenge): Promise<void> {
    await this.inner.present(ch);
    await this.waitUntilServed(ch);
  }

  cleanUp(ch: Challenge): Promise<void> {
    return this.inner.cleanUp(ch);
  }

  /** `http://IDENTIFIER/.well-known/acme-challenge/TOKEN`, with the port when not 80. */
  challengeUrl(ch: Pick<Challenge, 'identifier' | 'token'>): URL {
    const host = isIPv6(ch.identifier) ? `[${ch.identifier}]` : ch.identifier;
    return new URL(`http://${host}${this.port === 80 ? '' : `:${this.port}`}${PREFIX}${ch.token}`);
  }

  private async waitUntilServed(ch: Challenge): Promise<void> {
    const url = this.challengeUrl(ch);
    await waitForSelfCheck(ch, {
      type: 'HTTP-01',
      check: () => this.check(url, ch.keyAuthorization, ch.signal),
      timeoutMs: this.timeoutMs,
      pacing: growingPacing(this.intervalMs, this.maxIntervalMs),
      pending: (seen) => `${url.href}: ${seen}`,
      awaited: 'it answers the key authorization',
      passed: `${url.href} answers the key authorization`,
      timeoutReason: 'SelfCheckTimeout',
      timedOut: (seen, s, checks) =>
        `${ch.identifier}: ${selfCheckPrefix('HTTP-01')} ${url.href} did not answer the key authorization within ${s} s (${checks} checks; last: ${seen}); the CA was not asked to validate`,
      logPending: (seen) =>
        this.log.info({ url: url.href, seen }, 'HTTP-01 challenge not served yet'),
      logPassed: ({ checks, ms, waited }) =>
        this.log[waited ? 'info' : 'debug'](
          { url: url.href, checks, ms },
          'HTTP-01 challenge served',
        ),
    });
  }

  /**
   * Fetches `url` as the CA would, following redirects, and compares the body: undefined
   * when it is the key authorization, else what is seen instead.
   */
  private async check(
    url: URL,
    keyAuthorization: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    let current = url;
    try {
      for (let redirects = 0; ; redirects++) {
        const answer = await this.get(current, signal);
        const at = current === url ? '' : ` at ${current.href}`;
        if (answer.status >= 300 && answer.status < 400 && answer.location !== undefined) {
          if (redirects === MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`;
          current = this.redirectTarget(current, answer.location);
          continue;
        }
        if (answer.status !== 200) return `HTTP ${answer.status}${at}`;
        // RFC 8555 8.3: the CA ignores trailing whitespace.
        const body = answer.body.replace(/\s+$/, '');
        if (body === keyAuthorization) return undefined;
        return `HTTP 200${at} with another body: ${preview(body)}`;
      }
    } catch (err) {
      if (err instanceof Unanswered) return err.message;
      throw err;
    }
  }

  /** Where a redirect leads, if the CA would follow it there (http or https, port 80 or 443). */
  private redirectTarget(from: URL, location: string): URL {
    let to: URL;
    try {
      to = new URL(location, from);
    } catch {
      throw new Unanswered(`redirect to an invalid URL ${JSON.stringify(location)}`);
    }
    if (to.protocol !== 'http:' && to.protocol !== 'https:') {
      throw new Unanswered(`redirect to ${to.href}: the CA follows only http and https`);
    }
    if (to.port && ![80, 443, this.port].includes(Number(to.port))) {
      throw new Unanswered(`redirect to ${to.href}: the CA follows only ports 80 and 443`);
    }
    return to;
  }

  /** One GET, at each address of the host in turn (IPv6 first, as the CA) until one answers. */
  private async get(url: URL, signal?: AbortSignal): Promise<Answer> {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const addresses = await this.addresses(host);
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : this.port;
    const failures: string[] = [];
    for (const address of addresses) {
      try {
        return await request(url, host, address, port, signal);
      } catch (err) {
        if (!(err instanceof Unanswered)) throw err;
        failures.push(err.message);
      }
    }
    throw new Unanswered(failures.join('; '));
  }

  private async addresses(host: string): Promise<string[]> {
    if (isIP(host)) return [host];
    const servers = this.nameservers;
    if (!servers) {
      try {
        const found = await lookup(host, { all: true });
        return ipv6First(found.map((a) => a.address));
      } catch (err) {
        throw new Unanswered(`DNS: no address for ${host} (${dnsErrorCode(err)})`);
      }
    }
    const asked = servers.map(nameserverAddress).join(', ');
    const [v6, v4] = await queryServers(servers, (r) =>
      Promise.allSettled([r.resolve6(host), r.resolve4(host)]),
    );
    const found = [v6, v4].flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    if (found.length > 0) return found;
    const codes = [v6, v4].map((r) => (r.status === 'rejected' ? dnsErrorCode(r.reason) : ''));
    if (codes.includes('ENOTFOUND')) throw new Unanswered(`DNS NXDOMAIN for ${host} (${asked})`);
    const other = codes.find((c) => c && c !== 'ENODATA');
    throw new Unanswered(
      other
        ? `DNS ${other} looking up ${host} (${asked})`
        : `DNS: no A or AAAA record for ${host} (${asked})`,
    );
  }
}

function ipv6First(addresses: string[]): string[] {
  return [...addresses.filter((a) => isIPv6(a)), ...addresses.filter((a) => !isIPv6(a))];
}

/** The first characters of a body, quoted, for messages. */
function preview(body: string): string {
  const flat = body.replace(/\s+/g, ' ');
  return JSON.stringify(flat.length > 60 ? `${flat.slice(0, 60)}…` : flat);
}

/** GET `url` from `address`: the answer, or Unanswered saying why there is none. */
function request(
  url: URL,
  host: string,
  address: string,
  port: number,
  signal?: AbortSignal,
): Promise<Answer> {
  const https = url.protocol === 'https:';
  const target = isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      {
        host: address,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { Host: url.host, 'User-Agent': USER_AGENT, Accept: '*/*' },
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        ...(signal ? { signal } : {}),
        // The CA does not check the certificate of a redirect target.
        ...(https
          ? { rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) }
          : {}),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, body: '(longer than 4 KiB)' });
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const location = res.headers.location;
          resolve({
            status: res.statusCode ?? 0,
            ...(location !== undefined ? { location } : {}),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', (err) => reject(unanswered(err, target)));
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err) => reject(signal?.aborted ? err : unanswered(err, target)));
    req.end();
  });
}

const CONNECTION_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`,
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function unanswered(err: Error, target: string): Unanswered {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new Unanswered(`${target}: ${CONNECTION_ERRORS[code] ?? (code || err.message)}`);
}
