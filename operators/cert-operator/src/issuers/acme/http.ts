// Hooks on acme-client's HTTP layer (its one shared axios instance), for requests to the
// ACME servers an ACMEIssuer registered:
// - trust: an https.Agent with the issuer's extra CA (Pebble's own TLS CA in tests), for
//   that server only, instead of replacing the process-wide trust store;
// - transport: each request goes through `send`, which counts it in metrics, resolves
//   every HTTP response whatever its status, and rejects network failures with an error
//   carrying no axios `config`. acme-client's own retry interceptor then never sees them:
//   it would sleep out a 429's Retry-After (hours, inside a reconcile) and retry an
//   unreachable server for over a minute, then throw a TypeError that loses the cause;
//   retrying is the controller's job (issuance resumes from the saved order URL), but for
//   one immediate retry of a keep-alive socket the server had closed (ECONNRESET/EPIPE);
// - errors: an HTTP error response becomes an ACMEProblemError that keeps the status,
//   problem document and Retry-After, which acme-client's plain `Error(detail)` drops.
//   badNonce is left to acme-client, which retries it with the fresh nonce.

import { Agent } from 'node:https';
import { createRequire } from 'node:module';
import { createSecureContext, rootCertificates } from 'node:tls';
import { counter, exponentialBuckets, histogram } from '@chousei/runtime';
import * as acme from 'acme-client';

type AxiosInstance = typeof acme.axios;
type RequestConfig = Parameters<
  NonNullable<Parameters<AxiosInstance['interceptors']['request']['use']>[0]>
>[0];
type Response = Parameters<
  NonNullable<Parameters<AxiosInstance['interceptors']['response']['use']>[0]>
>[0];
type Adapter = (config: RequestConfig) => Promise<Response>;

/** Per request; axios has no default, and a hung server would hold an issuance forever. */
const REQUEST_TIMEOUT_MS = 30_000;
/** URLs remembered for the endpoint label; order and authorization URLs keep coming. */
const MAX_KNOWN_URLS = 10_000;
const PROBLEM_PREFIX = 'urn:ietf:params:acme:error:';

const requests = counter(
  'chousei_cert_acme_requests_total',
  'HTTP requests to ACME servers, by endpoint, method and status (`error`: no response).',
  ['endpoint', 'method', 'status'],
);
const requestDuration = histogram(
  'chousei_cert_acme_request_duration_seconds',
  'Duration of HTTP requests to ACME servers, by endpoint and method.',
  ['endpoint', 'method'],
  exponentialBuckets(0.005, 2, 12),
);

// The axios module acme-client itself loads (the package does not re-export getAdapter).
const axiosOfAcme = createRequire(createRequire(import.meta.url).resolve('acme-client'))(
  'axios',
) as { getAdapter(name: 'http'): Adapter };
const httpAdapter = axiosOfAcme.getAdapter('http');

/** A problem document (RFC 7807) or plain HTTP error from an ACME server. */
export class ACMEProblemError extends Error {
  override name = 'ACMEProblemError';
  constructor(
    message: string,
    readonly status: number,
    /** Directory resource or object kind the request went to (newOrder, authz, ...). */
    readonly endpoint: string,
    /** Problem type without the `urn:ietf:params:acme:error:` prefix (rateLimited, ...). */
    readonly type: string | undefined,
    readonly detail: string | undefined,
    /** From Retry-After. */
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/** No HTTP response from the ACME server (refused, reset, timed out, TLS failure). */
export class ACMENetworkError extends Error {
  override name = 'ACMENetworkError';
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface ServerSettings {
  cas: Set<string>;
  agent?: Agent;
}

/** Registered ACME servers by origin. */
const servers = new Map<string, ServerSettings>();
const directories = new Map<string, Record<string, unknown>>();
/** URL -> endpoint label, learnt from directories and from the objects the server returns. */
const endpoints = new Map<string, string>();
/** renewalInfo base URLs: their requests carry the certificate ID after the base. */
const renewalInfoBases = new Set<string>();
/** Request configs of registered servers (the response carries the same object). */
const ours = new WeakSet<object>();
let installed = false;

/**
 * Hooks acme-client's axios for requests to the ACME server of `directoryUrl`, trusting
 * `caPem` in addition to the system roots for its TLS.
 */
export function registerACMEServer(directoryUrl: string, caPem?: string): void {
  install();
  const origin = new URL(directoryUrl).origin;
  let server = servers.get(origin);
  if (!server) {
    server = { cas: new Set() };
    servers.set(origin, server);
  }
  if (caPem && !server.cas.has(caPem)) {
    server.cas.add(caPem);
    // One secure context for every connection: passing `ca` instead would parse the whole
    // root store again for each new TLS connection (megabytes of native memory apiece).
    const secureContext = createSecureContext({ ca: [...rootCertificates, ...server.cas] });
    server.agent = new Agent({ secureContext, keepAlive: true });
  }
  learnEndpoint(directoryUrl, 'directory');
}

/** Labels requests to `url` with `endpoint` (an order URL resumed from saved state). */
export function learnEndpoint(url: string, endpoint: string): void {
  endpoints.delete(url);
  endpoints.set(url, endpoint);
  if (endpoints.size > MAX_KNOWN_URLS) {
    const oldest = endpoints.keys().next().value;
    if (oldest !== undefined) endpoints.delete(oldest);
  }
}

/** The endpoint label of a request URL. */
export function endpointOf(url: string): string {
  const known = endpoints.get(url);
  if (known) return known;
  for (const base of renewalInfoBases) if (url.startsWith(base)) return 'renewalInfo';
  return 'other';
}

/** The directory document, as acme-client last fetched it (fetched now if it has not). */
export async function directoryOf(directoryUrl: string): Promise<Record<string, unknown>> {
  const cached = directories.get(directoryUrl);
  if (cached) return cached;
  const res = await acme.axios.get(directoryUrl);
  const data: unknown = res.data;
  return directories.get(directoryUrl) ?? (isRecord(data) ? data : {});
}

function install(): void {
  if (installed) return;
  installed = true;
  acme.axios.interceptors.request.use((config) => {
    const server = settingsFor(config.url);
    if (!server) return config;
    ours.add(config);
    if (server.agent) config.httpsAgent = server.agent;
    if (!config.timeout) config.timeout = REQUEST_TIMEOUT_MS;
    config.adapter = send;
    return config;
  });
  acme.axios.interceptors.response.use((res) => {
    if (!ours.has(res.config)) return res;
    learnFrom(res);
    if (res.status >= 400 && !isBadNonce(res)) throw problemError(res);
    return res;
  });
}

function settingsFor(url: string | undefined): ServerSettings | undefined {
  if (!url) return undefined;
  try {
    return servers.get(new URL(url).origin);
  } catch {
    return undefined;
  }
}

/** The transport of registered servers' requests: metrics, and see the top of the file. */
/**
 * Unused nonces per server, from the Replay-Nonce of every answer. acme-client asks
 * newNonce before each signed request; RFC 8555 lets a client use the nonce of the last
 * answer instead, which halves the requests (and, with Pebble, the TLS connections: it
 * closes the socket after each HEAD).
 */
const nonces = new Map<string, string[]>();
const MAX_NONCES = 64;

function keepNonce(url: string | undefined, res: Response): void {
  const nonce = res.headers?.['replay-nonce'];
  if (!url || typeof nonce !== 'string') return;
  // acme-client retries a badNonce with that answer's nonce itself: pooling it too would
  // spend it twice.
  const type = isRecord(res.data) ? res.data.type : undefined;
  if (typeof type === 'string' && type.endsWith(':badNonce')) return;
  const origin = new URL(url).origin;
  const pool = nonces.get(origin) ?? [];
  pool.push(nonce);
  if (pool.length > MAX_NONCES) pool.shift();
  nonces.set(origin, pool);
}

async function send(config: RequestConfig): Promise<Response> {
  const endpoint = endpointOf(config.url ?? '');
  const method = (config.method ?? 'get').toUpperCase();
  if (method === 'HEAD' && endpoint === 'newNonce' && config.url) {
    const nonce = nonces.get(new URL(config.url).origin)?.pop();
    if (nonce) {
      return {
        status: 200,
        statusText: 'OK',
        headers: { 'replay-nonce': nonce },
        data: '',
        config,
        request: {},
      } as Response;
    }
  }
  for (let attempt = 1; ; attempt++) {
    const done = requestDuration.startTimer({ endpoint, method });
    try {
      const res = await httpAdapter(config);
      done();
      requests.inc({ endpoint, method, status: String(res.status) });
      keepNonce(config.url, res);
      return res;
    } catch (err) {
      done();
      // acme-client makes axios reject every response (its validateStatus); take it back.
      const res = responseOf(err);
      if (res) {
        requests.inc({ endpoint, method, status: String(res.status) });
        keepNonce(config.url, res);
        return res;
      }
      requests.inc({ endpoint, method, status: 'error' });
      const code = codeOf(err);
      // A keep-alive socket the server had already closed: the request never arrived.
      if (attempt === 1 && (code === 'ECONNRESET' || code === 'EPIPE')) continue;
      const message = err instanceof Error ? err.message : String(err);
      throw new ACMENetworkError(
        `${method} ${config.url}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`,
        code,
        { cause: err },
      );
    }
  }
}

function responseOf(err: unknown): Response | undefined {
  if (typeof err !== 'object' || err === null || !('response' in err)) return undefined;
  const res = (err as { response?: Response }).response;
  return res && typeof res.status === 'number' ? res : undefined;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function header(res: Response, name: string): string | undefined {
  const v: unknown = res.headers[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Remembers the URLs a response names, to label later requests to them. */
function learnFrom(res: Response): void {
  if (res.status >= 400) return;
  const url = res.config.url ?? '';
  const data: unknown = res.data;
  const endpoint = endpointOf(url);
  if (endpoint === 'directory' && isRecord(data)) {
    directories.set(url, data);
    for (const [name, value] of Object.entries(data)) {
      if (typeof value === 'string') learnEndpoint(value, name);
    }
    if (typeof data.renewalInfo === 'string') renewalInfoBases.add(data.renewalInfo);
    return;
  }
  const location = header(res, 'location');
  if (location && endpoint === 'newOrder') learnEndpoint(location, 'order');
  if (location && endpoint === 'newAccount') learnEndpoint(location, 'account');
  if (!isRecord(data)) return;
  if (typeof data.finalize === 'string') learnEndpoint(data.finalize, 'finalize');
  if (typeof data.certificate === 'string') learnEndpoint(data.certificate, 'cert');
  if (Array.isArray(data.authorizations)) {
    for (const a of data.authorizations) if (typeof a === 'string') learnEndpoint(a, 'authz');
  }
  if (Array.isArray(data.challenges)) {
    for (const c of data.challenges) {
      if (isRecord(c) && typeof c.url === 'string') learnEndpoint(c.url, 'challenge');
    }
  }
}

function isBadNonce(res: Response): boolean {
  const data: unknown = res.data;
  return res.status === 400 && isRecord(data) && data.type === `${PROBLEM_PREFIX}badNonce`;
}

function problemError(res: Response): ACMEProblemError {
  const data: unknown = res.data;
  const endpoint = endpointOf(res.config.url ?? '');
  const method = (res.config.method ?? 'get').toUpperCase();
  let type: string | undefined;
  let detail: string | undefined;
  if (isRecord(data)) {
    if (typeof data.type === 'string') type = data.type.replace(PROBLEM_PREFIX, '');
    if (typeof data.detail === 'string') detail = data.detail;
    // Per-identifier causes (RFC 8555 6.7.1), e.g. which name a CAA record forbids.
    if (Array.isArray(data.subproblems)) {
      const subs = data.subproblems.filter(isRecord).map((s) => {
        const id = isRecord(s.identifier) ? `${s.identifier.value}: ` : '';
        return `${id}${typeof s.detail === 'string' ? s.detail : String(s.type)}`;
      });
      if (subs.length) detail = `${detail ?? ''} (${subs.join('; ')})`;
    }
  } else if (typeof data === 'string' && data.trim()) {
    detail = data.trim().slice(0, 200);
  }
  const retryAfterMs = parseRetryAfter(header(res, 'retry-after'));
  return new ACMEProblemError(
    `${method} ${endpoint}: HTTP ${res.status}${type ? ` ${type}` : ''}${detail ? `: ${detail}` : ''}`,
    res.status,
    endpoint,
    type,
    detail,
    retryAfterMs,
  );
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 10.2.3), in milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
