import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { dirname, join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.js';
import {
  ADMISSION_API_VERSION,
  type AdmissionHandler,
  type AdmissionRequest,
  type AdmissionResult,
  type AdmissionReview,
} from './admission.js';

export interface WebhookServerOptions {
  /** Default 9443, as controller-runtime; 0 picks a free port (see `port`). */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Where `tls.crt` and `tls.key` are, e.g. a mounted Secret. */
  certDir?: string;
  /** Default `certDir/tls.crt`. */
  certFile?: string;
  /** Default `certDir/tls.key`. */
  keyFile?: string;
  logger?: Logger;
  /** How often the cert files are re-read in case a watch event was missed. Default 10 s. */
  certPollIntervalMs?: number;
  /** Largest review body accepted. Default 7 MiB, a bit over the API server's 3 MiB objects (twice, on UPDATE). */
  maxBodyBytes?: number;
  /** How long `stop` lets reviews in flight finish before cutting connections. Default 5 s. */
  shutdownTimeoutMs?: number;
}

const DEFAULT_MAX_BODY = 7 * 1024 * 1024;
/** Watch events come in bursts (a file written twice, a symlink swap); reload once after. */
const RELOAD_DEBOUNCE_MS = 50;

interface CertPair {
  cert: string;
  key: string;
}

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * An HTTPS server for admission webhooks (AdmissionReview v1), like controller-runtime's
 * webhook server: handlers are registered by path, and the serving certificate follows its
 * files on disk, so a rotated Secret takes effect without a restart.
 */
export class WebhookServer {
  private readonly handlers = new Map<string, AdmissionHandler>();
  private readonly log: Logger;
  private readonly certFile: string;
  private readonly keyFile: string;
  private server: Server | undefined;
  private loaded: CertPair | undefined;
  /** The last pair that failed to load, so a broken rotation is reported once. */
  private rejected: CertPair | undefined;
  private watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private starting = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: WebhookServerOptions = {}) {
    const { certDir, certFile, keyFile } = options;
    if (!certFile && !certDir) throw new Error('WebhookServer needs certDir or certFile');
    if (!keyFile && !certDir) throw new Error('WebhookServer needs certDir or keyFile');
    this.certFile = certFile ?? join(certDir!, 'tls.crt');
    this.keyFile = keyFile ?? join(certDir!, 'tls.key');
    this.log = (options.logger ?? silentLogger).child({ component: 'webhook-server' });
  }

  /** Serves `handler` on POSTs to `path` (e.g. `/validate-v1-configmap`); also after start. */
  register(path: string, handler: AdmissionHandler): void {
    if (!path.startsWith('/')) throw new Error(`webhook path must start with '/': ${path}`);
    if (path === '/healthz') throw new Error('/healthz is the health check');
    if (this.handlers.has(path)) throw new Error(`a webhook is already registered at ${path}`);
    this.handlers.set(path, handler);
  }

  /** The port listened on, which is the chosen one when the option was 0. */
  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('WebhookServer is not started');
    return address.port;
  }

  /** Loads the certificate (failing when it is unusable) and resolves once listening. */
  async start(): Promise<void> {
    if (this.server || this.starting) throw new Error('WebhookServer already started');
    this.starting = true;
    try {
      await this.listen(await this.readPair());
    } finally {
      this.starting = false;
    }
    this.watchCerts();
    this.log.info(
      { port: this.port, paths: [...this.handlers.keys()], certFile: this.certFile },
      'webhook server listening',
    );
  }

  private async listen(pair: CertPair): Promise<void> {
    const server = createServer(pair, (req, res) => {
      this.serve(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'webhook request failed');
        if (!res.headersSent) this.reply(res, 500, 'internal error');
        else res.destroy();
      });
    });
    // Go clients (the API server) keep idle connections for 90 s and do not retry a POST
    // that races the server closing one, so outlive them.
    server.keepAliveTimeout = 120_000;
    this.server = server;
    this.loaded = pair;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.options.port ?? 9443, this.options.host ?? '0.0.0.0', () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.server = undefined;
      throw err;
    }
    server.on('error', (err) => this.log.error({ err }, 'webhook server error'));
    server.on('tlsClientError', (err) => this.log.debug({ err }, 'TLS handshake failed'));
  }

  /** Stops listening and watching; reviews in flight get `shutdownTimeoutMs` to finish. */
  stop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.stopping ??= this.shutdown(server).finally(() => {
      this.server = undefined;
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async shutdown(server: Server): Promise<void> {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(
      () => server.closeAllConnections(),
      this.options.shutdownTimeoutMs ?? 5000,
    );
    await closed;
    clearTimeout(force);
    await this.reloading;
    this.log.info('webhook server stopped');
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (path === '/healthz') {
      this.reply(res, 200, 'ok');
      return;
    }
    const handler = this.handlers.get(path);
    if (!handler) {
      this.reply(res, 404, `no webhook at ${path}`);
      return;
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      this.reply(res, 405, 'admission reviews are POSTed');
      return;
    }
    let request: AdmissionRequest<unknown>;
    try {
      const contentType = req.headers['content-type']?.split(';')[0]?.trim();
      if (contentType !== 'application/json') {
        throw new HttpError(415, `content type ${contentType ?? '(none)'}, not application/json`);
      }
      request = parseReview(await this.readBody(req));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      this.log.warn({ path, status: err.statusCode, err: err.message }, 'bad admission review');
      // After a refused body the rest of it may still be on the wire: do not reuse.
      if (err.statusCode === 413) res.setHeader('connection', 'close');
      this.reply(res, err.statusCode, err.message);
      return;
    }
    const log = this.log.child({
      path,
      uid: request.uid,
      operation: request.operation,
      resource: request.resource?.resource,
      namespace: request.namespace,
      name: request.name,
    });
    let result: AdmissionResult;
    try {
      result = await handler(request);
    } catch (err) {
      log.error({ err }, 'admission handler failed');
      result = {
        allowed: false,
        status: { code: 500, message: err instanceof Error ? err.message : String(err) },
      };
    }
    log.debug({ allowed: result.allowed, patched: !!result.patch }, 'admission review');
    const review: AdmissionReview = {
      apiVersion: ADMISSION_API_VERSION,
      kind: 'AdmissionReview',
      response: { ...result, uid: request.uid },
    };
    this.send(res, 200, 'application/json', JSON.stringify(review));
  }

  private reply(res: ServerResponse, status: number, text: string): void {
    this.send(res, status, 'text/plain; charset=utf-8', `${text}\n`);
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string): void {
    // While stopping, a kept-alive connection would hold `stop` up until it idles out.
    if (this.stopping) res.setHeader('connection', 'close');
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const limit = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const tooLarge = () => new HttpError(413, `request body over ${limit} bytes`);
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.off('data', onData);
          req.resume();
          reject(tooLarge());
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('end', () => resolve(Buffer.concat(chunks)));
      req.once('error', reject);
    });
  }

  private async readPair(): Promise<CertPair> {
    const [cert, key] = await Promise.all([
      readFile(this.certFile, 'utf8'),
      readFile(this.keyFile, 'utf8'),
    ]);
    // Throws on bad PEM and on a key that does not belong to the certificate.
    createSecureContext({ cert, key });
    return { cert, key };
  }

  /**
   * Kubernetes updates a mounted Secret by swapping a `..data` symlink in its directory, so
   * the files' own inodes never change: watch the directories and compare contents. A poll
   * covers watchers that miss events (network filesystems, a directory replaced whole).
   */
  private watchCerts(): void {
    for (const dir of new Set([dirname(this.certFile), dirname(this.keyFile)])) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.scheduleReload());
        watcher.on('error', (err) => {
          this.log.warn({ err, dir }, 'cert directory watch failed; polling only');
          watcher.close();
        });
        this.watchers.push(watcher);
      } catch (err) {
        this.log.warn({ err, dir }, 'cannot watch cert directory; polling only');
      }
    }
    this.pollTimer = setInterval(
      () => this.scheduleReload(),
      this.options.certPollIntervalMs ?? 10_000,
    );
    this.pollTimer.unref();
  }

  private scheduleReload(): void {
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.reload(), RELOAD_DEBOUNCE_MS);
    this.debounceTimer.unref();
  }

  /** One reload at a time; events during one cause one more pass after it. */
  private async reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    do {
      this.reloadAgain = false;
      this.reloading = this.reloadOnce();
      await this.reloading;
      this.reloading = undefined;
    } while (this.reloadAgain && !this.stopping);
  }

  private async reloadOnce(): Promise<void> {
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([
        readFile(this.certFile, 'utf8'),
        readFile(this.keyFile, 'utf8'),
      ]);
    } catch (err) {
      // Mid-swap a path can be briefly missing; the next event or poll retries.
      this.log.debug({ err }, 'cert files not readable; keeping the current certificate');
      return;
    }
    if (!this.server || this.stopping) return;
    if (cert === this.loaded?.cert && key === this.loaded.key) return;
    if (cert === this.rejected?.cert && key === this.rejected.key) return;
    try {
      // Validate apart first: setSecureContext updates some fields before it can throw.
      createSecureContext({ cert, key });
      this.server.setSecureContext({ cert, key });
    } catch (err) {
      this.rejected = { cert, key };
      this.log.warn(
        { err, certFile: this.certFile, keyFile: this.keyFile },
        'new serving certificate unusable (rotation in progress?); keeping the current one',
      );
      return;
    }
    this.loaded = { cert, key };
    this.rejected = undefined;
    this.log.info({ certFile: this.certFile }, 'serving certificate reloaded');
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseReview(body: Buffer): AdmissionRequest<unknown> {
  let review: unknown;
  try {
    review = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(review) || review.kind !== 'AdmissionReview') {
    throw new HttpError(400, 'body is not an AdmissionReview');
  }
  if (review.apiVersion !== ADMISSION_API_VERSION) {
    throw new HttpError(400, `AdmissionReview ${String(review.apiVersion)} is not served`);
  }
  const request = review.request;
  if (!isRecord(request) || typeof request.uid !== 'string' || !request.uid) {
    throw new HttpError(400, 'AdmissionReview has no request with a uid');
  }
  if (typeof request.operation !== 'string') {
    throw new HttpError(400, 'AdmissionReview request has no operation');
  }
  return request as unknown as AdmissionRequest<unknown>;
}
