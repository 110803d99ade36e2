// JSON over HTTP for providers whose service is an HTTP API (PowerDNS, the external-dns
// webhook protocol): keep-alive connections, a deadline per attempt, retries with backoff
// for what retrying can fix (the network, 5xx, 429), metrics per request, typed errors.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type BackoffOptions, type Logger, silentLogger } from '@chousei/runtime';
import { startRequest } from './metrics.js';
import { ProviderError } from './provider.js';
import { withRetry } from './retry.js';

export interface HttpTlsOptions {
  /** PEM of the CAs to trust instead of the system's. */
  ca?: string;
  /** PEM client certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
  /** Accept any server certificate (tests, self-signed servers on a private network). */
  insecureSkipVerify?: boolean;
}

export interface HttpServiceOptions {
  /** Provider name: the metrics label and the `provider` of errors. */
  provider: string;
  /** `http(s)://host[:port][/base]`; request paths are appended to it. */
  baseUrl: string;
  /** Sent with every request (e.g. an API key). Never logged. */
  headers?: Record<string, string>;
  /** Deadline of one attempt, from sending to the last byte of the body. Default 30 s. */
  timeoutMs?: number;
  /** Retries after the first attempt for network errors, 5xx and 429. Default 3. */
  maxRetries?: number;
  /** Default 200 ms doubling to 5 s, with jitter. */
  backoff?: BackoffOptions;
  /** Connections open at once. Default 8. */
  maxSockets?: number;
  tls?: HttpTlsOptions;
  logger?: Logger;
}

/** Requests sent, retries included, by operation. */
export interface HttpServiceStats {
  calls: Record<string, number>;
  retries: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpRequest {
  /** For metrics, logs and errors, e.g. `PATCH zone`. */
  operation: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  /** Serialised as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Socket errors after which the service may have processed the request. */
const CUT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'TIMEOUT']);
/** Socket errors before anything was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Largest body read (a zone of a few hundred thousand records). */
const MAX_BODY = 256 * 1024 * 1024;

/**
 * A failed HTTP request: the service could not be reached, answered 5xx or 429 through
 * every retry, or (from `expect`) answered a status the caller does not accept.
 */
export class HttpServiceError extends ProviderError {
  override name = 'HttpServiceError';
  constructor(
    message: string,
    provider: string,
    code: string,
    retryable: boolean,
    /** The last status seen, when the service answered. */
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, provider, code, retryable, options);
  }
}

class AttemptError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export class HttpService {
  readonly provider: string;
  readonly stats: HttpServiceStats = { calls: {}, retries: 0 };
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoff: BackoffOptions;
  private readonly log: Logger;

  constructor(opts: HttpServiceOptions) {
    this.provider = opts.provider;
    this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    const https = this.base.protocol === 'https:';
    if (!https && this.base.protocol !== 'http:')
      throw new ProviderError(
        `${opts.baseUrl}: the URL must be http or https`,
        opts.provider,
        'BadConfig',
        false,
      );
    const pool = { keepAlive: true, maxSockets: opts.maxSockets ?? 8 };
    const tls = opts.tls ?? {};
    this.agent = https
      ? new HttpsAgent({
          ...pool,
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}),
          rejectUnauthorized: !tls.insecureSkipVerify,
        })
      : new HttpAgent(pool);
    this.send = https ? httpsRequest : httpRequest;
    this.headers = opts.headers ?? {};
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxRetries = opts.maxRetries ?? 3;
    this.backoff = { initialMs: 200, maxMs: 5_000, ...opts.backoff };
    this.log = (opts.logger ?? silentLogger).child({ provider: opts.provider });
  }

  /** Where requests go, for messages (`http://host:port/base`). */
  get url(): string {
    return this.base.href.replace(/\/$/, '');
  }

  /**
   * Sends a request, retried while the failure is transient; resolves with any response
   * below 500 other than 429, throws HttpServiceError otherwise.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    try {
      return await withRetry(() => this.attempt(req), {
        maxRetries: this.maxRetries,
        backoff: this.backoff,
        retryable: (err) => err instanceof AttemptError,
        onRetry: (err, retry, delayMs) => {
          this.stats.retries++;
          this.log.debug(
            { operation: req.operation, err: (err as Error).message, retry, delayMs },
            `${this.provider} request failed, retrying`,
          );
        },
      });
    } catch (err) {
      if (!(err instanceof AttemptError)) throw err;
      const where = `${req.operation} (${req.method} ${this.urlOf(req.path).pathname})`;
      throw new HttpServiceError(
        err.status === undefined
          ? `${where}: ${this.url} unreachable after ${this.maxRetries + 1} attempts: ${err.message}`
          : `${where}: ${err.message}`,
        this.provider,
        err.code,
        true,
        err.status,
        { cause: err },
      );
    }
  }

  private urlOf(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base);
  }

  /** One attempt; AttemptError for what a retry may fix. */
  private attempt(req: HttpRequest): Promise<HttpResponse> {
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    this.stats.calls[req.operation] = (this.stats.calls[req.operation] ?? 0) + 1;
    const done = startRequest(this.provider, req.operation);
    return new Promise<HttpResponse>((resolve, reject) => {
      const fail = (err: AttemptError) => {
        done(err.status === undefined ? 'error' : String(err.status));
        reject(err);
      };
      const r = this.send(this.urlOf(req.path), {
        method: req.method,
        agent: this.agent,
        timeout: this.timeoutMs,
        headers: {
          ...this.headers,
          ...req.headers,
          ...(body ? { 'content-length': String(body.length) } : {}),
        },
      });
      // One deadline for the whole exchange; the socket timeout alone only catches idleness.
      const deadline = setTimeout(
        () => r.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })),
        this.timeoutMs,
      );
      r.on('timeout', () => r.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
      r.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        const code = err.code ?? 'ERROR';
        if (CUT.has(code) || NOT_SENT.has(code))
          fail(new AttemptError(`${err.message} (${code})`, code));
        else {
          done('error');
          reject(
            new HttpServiceError(
              `${req.operation}: ${this.url}: ${err.message}`,
              this.provider,
              code,
              false,
              undefined,
              { cause: err },
            ),
          );
        }
      });
      r.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) r.destroy(new Error(`response body over ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(deadline);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (status >= 500 || status === 429) {
            fail(new AttemptError(`HTTP ${status}: ${brief(text)}`, `HTTP${status}`, status));
            return;
          }
          done(status < 400 ? 'success' : String(status));
          resolve({ status, headers: res.headers, body: text });
        });
        res.on('error', () => {});
      });
      r.end(body);
    });
  }

  /** Closes idle connections (in-flight requests finish). */
  close(): void {
    this.agent.destroy();
  }
}

/** A response body short enough for an error message. */
export function brief(body: string, max = 300): string {
  const text = body.trim().replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max)}...` : text || '(empty body)';
}
