// JSON over HTTP for providers whose service is an HTTP API (PowerDNS, the external-dns
// webhook protocol): keep-alive connections, a deadline per attempt, retries with backoff
// for what retrying can fix (the network, 5xx, 429), metrics per request, typed errors.
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type BackoffOptions, type Logger, silentLogger, withRetry } from '@chousei/runtime';
import { startRequest } from './metrics.js';
import { ProviderError } from './provider.js';

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
  /** For metrics, logs and errors, e.g. `PatchZone`. */
  operation: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  /** Serialised as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * What is retried: `transient` (default: the network, 5xx, 429) for requests that may be
   * repeated; `unsent` (only failures before the request left) for one that must not land
   * twice, whose caller looks at the service before sending it again.
   */
  retry?: 'transient' | 'unsent';
}

/** Socket errors after which the service may have processed the request. */
const CUT = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'TIMEOUT']);
/** Socket errors before anything was sent. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Largest body read (a zone of a few hundred thousand records). */
const MAX_BODY = 256 * 1024 * 1024;

/** Statuses worth sending the same request again for. */
export const retryableStatus = (status: number): boolean => status >= 500 || status === 429;

/**
 * The service could not be reached through every retry (or the request failed in a way no
 * retry fixes): no answer to look at.
 */
export class HttpServiceError extends ProviderError {
  override name = 'HttpServiceError';
}

/** One attempt that got no answer: `code` is the socket error (or TIMEOUT). */
class NoAnswer extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** An answer a retry may change (5xx, 429), carried through the retry loop. */
class RetryableAnswer extends Error {
  constructor(readonly response: HttpResponse) {
    super(`HTTP ${response.status}`);
  }
}

export class HttpService {
  readonly provider: string;
  readonly stats: HttpServiceStats = { calls: {}, retries: 0 };
  private readonly base: URL;
  private readonly given: string;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoff: BackoffOptions;
  private readonly log: Logger;

  constructor(opts: HttpServiceOptions) {
    this.provider = opts.provider;
    this.given = opts.baseUrl;
    this.base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
    const https = this.base.protocol === 'https:';
    if (!https && this.base.protocol !== 'http:')
      throw new ProviderError(
        `${opts.baseUrl}: the URL must be http or https`,
        opts.provider,
        'BadConfig',
        false,
      );
    // Idle connections closed after 4 s, before servers drop them (Go's default idle
    // timeout is its read timeout, often 5 or 10 s) as a request goes out on them.
    const pool = { keepAlive: true, maxSockets: opts.maxSockets ?? 8, timeout: 4000 };
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
   * Sends a request, again while the failure is one its `retry` policy allows, and resolves
   * with the last answer whatever its status; throws HttpServiceError only when there was
   * no answer at all.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const unsentOnly = req.retry === 'unsent';
    let attempts = 0;
    try {
      return await withRetry(
        async () => {
          attempts++;
          const res = await this.attempt(req);
          if (!unsentOnly && retryableStatus(res.status)) throw new RetryableAnswer(res);
          return res;
        },
        {
          maxRetries: this.maxRetries,
          backoff: this.backoff,
          retryable: (err) =>
            err instanceof RetryableAnswer ||
            (err instanceof NoAnswer && (!unsentOnly || NOT_SENT.has(err.code))),
          onRetry: (err, retry, delayMs) => {
            this.stats.retries++;
            this.log.debug(
              { operation: req.operation, err: (err as Error).message, retry, delayMs },
              `${this.provider} request failed, retrying`,
            );
          },
        },
      );
    } catch (err) {
      if (err instanceof RetryableAnswer) return err.response;
      if (!(err instanceof NoAnswer)) throw err;
      const where = `${req.operation} (${req.method} ${this.urlOf(req.path).pathname})`;
      const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
      throw new HttpServiceError(
        `${where}: ${this.url} unreachable after ${tries}: ${err.message}`,
        this.provider,
        err.code,
        true,
        { cause: err },
      );
    }
  }

  /** `path` under the base URL; the empty path is the base URL exactly as given. */
  private urlOf(path: string): URL {
    return path === '' ? new URL(this.given) : new URL(path.replace(/^\//, ''), this.base);
  }

  /** One attempt: the answer, whatever its status; NoAnswer when there was none. */
  private attempt(req: HttpRequest): Promise<HttpResponse> {
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    this.stats.calls[req.operation] = (this.stats.calls[req.operation] ?? 0) + 1;
    const done = startRequest(this.provider, req.operation);
    return new Promise<HttpResponse>((resolve, reject) => {
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
      const timedOut = () => r.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' }));
      // One deadline for the whole exchange; the socket timeout alone only catches idleness.
      const deadline = setTimeout(timedOut, this.timeoutMs);
      r.on('timeout', timedOut);
      r.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        const code = err.code ?? 'ERROR';
        done('error');
        if (CUT.has(code) || NOT_SENT.has(code))
          reject(new NoAnswer(`${err.message} (${code})`, code));
        else
          reject(
            new HttpServiceError(
              `${req.operation}: ${this.url}: ${err.message}`,
              this.provider,
              code,
              false,
              {
                cause: err,
              },
            ),
          );
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
          done(status < 400 ? 'success' : String(status));
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', () => {});
      });
      r.end(body);
    });
  }

  /** A response body as JSON; a body that is not JSON is a retryable ProviderError. */
  json<T>(res: HttpResponse, what: string): T {
    try {
      return JSON.parse(res.body) as T;
    } catch (err) {
      throw new ProviderError(
        `${what}: ${this.url} answered invalid JSON: ${brief(res.body)}`,
        this.provider,
        'InvalidResponse',
        true,
        { cause: err },
      );
    }
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
