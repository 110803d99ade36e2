import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent, type RequestOptions, request } from 'node:https';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ClusterAccess } from '../kubeconfig/access.js';
import { counter, exponentialBuckets, histogram } from '../metrics/registry.js';
import { sleep } from '../util/async.js';
import { apiError } from './errors.js';
import { ConnectProxyAgent } from './proxy-agent.js';

export interface TransportOptions {
  /** Timeout of a non-watch request, default 30 s. */
  requestTimeoutMs?: number;
  /** User-Agent sent with every request. */
  userAgent?: string;
  /**
   * Waits before each non-watch request, for a client-side rate limit; returns the delay
   * in ms (e.g. a token bucket's `when`).
   */
  throttle?: () => number;
  /**
   * How long TLS options and auth headers are reused before the ClusterAccess is asked
   * again (each time builds a TLS context). Default 30 s.
   */
  authRefreshMs?: number;
}

export interface RequestInit {
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
  contentType?: string | undefined;
  accept?: string | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Longest silence of the connection before it fails: until the response head for
   * open(), and between body chunks too for request(). Default for request(): the
   * transport's requestTimeoutMs.
   */
  timeoutMs?: number | undefined;
}

const requests = counter('rest_client_requests_total', 'API server requests by verb and code', [
  'method',
  'code',
]);
const latency = histogram(
  'rest_client_request_duration_seconds',
  'API server request latency by verb',
  ['verb'],
  exponentialBuckets(0.001, 2, 15),
);

function queryString(query: RequestInit['query']): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== '') parts.push(`${k}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * HTTPS to the API server with one keep-alive agent per client (client-node builds a new
 * agent per request, which leaked sockets on watch reconnects), through the cluster's
 * proxy-url when it has one. Auth headers come from
 * the ClusterAccess and are refreshed periodically, so rotated tokens are picked up.
 */
export class Transport {
  readonly server: string;
  private readonly agent: Agent;
  private tls: RequestOptions & { secureContext?: SecureContext } = {};
  private authHeaders: OutgoingHttpHeaders = {};
  private authAt = 0;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly throttle: (() => number) | undefined;
  private readonly authRefreshMs: number;

  constructor(
    private readonly kubeConfig: ClusterAccess,
    opts: TransportOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/$/, '');
    const agentOptions = { keepAlive: true, maxSockets: Number.POSITIVE_INFINITY };
    this.agent = cluster.proxyUrl
      ? new ConnectProxyAgent(new URL(cluster.proxyUrl), agentOptions)
      : new Agent(agentOptions);
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? 'chousei-runtime';
    this.throttle = opts.throttle;
    this.authRefreshMs = opts.authRefreshMs ?? 30_000;
  }

  private async options(): Promise<RequestOptions & { secureContext?: SecureContext }> {
    if (Date.now() - this.authAt >= this.authRefreshMs) {
      const opts: RequestOptions = { headers: {} };
      await this.kubeConfig.applyToHTTPSOptions(opts);
      const { ca, cert, key, rejectUnauthorized, servername, auth } = opts;
      // One secure context for all connections: given ca/cert/key instead, Node builds a
      // new one (parsing them again) for every socket, each watch reconnect included.
      const secureContext = createSecureContext({ ca, cert, key });
      this.tls = { secureContext, rejectUnauthorized, servername, auth };
      this.authHeaders = opts.headers as OutgoingHttpHeaders;
      this.authAt = Date.now();
    }
    return this.tls;
  }

  /** Opens a request and resolves with the response head; the caller reads the body. */
  async open(method: string, path: string, init: RequestInit = {}): Promise<IncomingMessage> {
    const tls = await this.options();
    const url = `${this.server}${path}${queryString(init.query)}`;
    const headers: OutgoingHttpHeaders = {
      ...this.authHeaders,
      'user-agent': this.userAgent,
      accept: init.accept ?? 'application/json',
    };
    let payload: string | undefined;
    if (init.body !== undefined) {
      payload = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] = init.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve, reject) => {
      const req = request(url, { ...tls, method, headers, agent: this.agent, signal: init.signal });
      if (init.timeoutMs) {
        req.setTimeout(init.timeoutMs, () =>
          req.destroy(new Error(`${method} ${path}: no response within ${init.timeoutMs} ms`)),
        );
      }
      req.once('response', (res) => {
        // The head came: reading the body (a watch stays open for minutes) is the caller's
        // to bound. A timer left on the socket would race the caller's own.
        req.setTimeout(0);
        resolve(res);
      });
      req.once('error', reject);
      req.end(payload);
    });
  }

  /** A request whose JSON answer is returned; non-2xx answers throw a typed ApiError. */
  async request<T>(method: string, path: string, init: RequestInit = {}): Promise<T> {
    const delay = this.throttle?.() ?? 0;
    // A request given up (a shutdown) stops waiting for its turn at once.
    if (delay > 0) await sleep(delay, init.signal);
    init.signal?.throwIfAborted();
    const end = latency.startTimer({ verb: method });
    let code = 'error';
    try {
      const timeoutMs = init.timeoutMs ?? this.timeoutMs;
      const res = await this.open(method, path, { ...init, timeoutMs });
      code = String(res.statusCode);
      let body = '';
      const stalled = () =>
        new Error(`${method} ${path}: response body stalled for ${timeoutMs} ms`);
      for await (const chunk of bodyChunks(res, timeoutMs, stalled)) body += chunk;
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        throw apiError(method, path, status, body, res.headers['retry-after']);
      }
      return (body ? JSON.parse(body) : undefined) as T;
    } finally {
      requests.inc({ method, code });
      end();
    }
  }

  /** Closes idle keep-alive sockets. */
  close(): void {
    this.agent.destroy();
  }
}

/**
 * The chunks of a response body, decoded, as they come. When none comes for `idleMs` the
 * response is destroyed with the error `stalled()` makes, and the iteration throws it.
 */
export async function* bodyChunks(
  res: IncomingMessage,
  idleMs: number,
  stalled: () => Error,
): AsyncGenerator<string> {
  const timer = setTimeout(() => res.destroy(stalled()), idleMs);
  try {
    res.setEncoding('utf8');
    for await (const chunk of res as AsyncIterable<string>) {
      timer.refresh();
      yield chunk;
    }
  } finally {
    clearTimeout(timer);
  }
}
