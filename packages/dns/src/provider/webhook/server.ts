// external-dns's webhook provider protocol served in front of any Provider, so external-dns
// (--provider=webhook) can write through Chousei's providers: `GET /` announces the zones,
// `GET /records` lists them, `POST /adjustendpoints` says how records will be stored,
// `POST /records` applies external-dns's plan.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, silentLogger } from '@chousei/runtime';
import { type Change, inZone, mostSpecificZone, type RecordSet, type Zone } from '../../records.js';
import type { Provider } from '../provider.js';
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

export interface WebhookServerOptions {
  provider: Provider;
  /** Only zones under these domains are served (none: every zone of the provider). */
  domainFilter?: string[];
  /** Names under these domains are neither listed nor written. */
  excludeDomains?: string[];
  /** TTL of an endpoint external-dns sends without one (its `recordTTL` 0). Default 300. */
  defaultTTL?: number;
  /** Largest request body. Default 64 MiB. */
  maxBodyBytes?: number;
  logger?: Logger;
}

/** A request the server cannot take, answered with its status and this message. */
class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The protocol's handlers over one provider. */
export class WebhookServer {
  private readonly provider: Provider;
  private readonly include: string[];
  private readonly exclude: string[];
  private readonly defaultTTL: number;
  private readonly maxBody: number;
  private readonly log: Logger;

  constructor(opts: WebhookServerOptions) {
    this.provider = opts.provider;
    const domains = filterDomains({ include: opts.domainFilter, exclude: opts.excludeDomains });
    this.include = domains.include;
    this.exclude = domains.exclude;
    this.defaultTTL = opts.defaultTTL ?? 300;
    this.maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    this.log = (opts.logger ?? silentLogger).child({ webhook: opts.provider.name });
  }

  /** A node:http request listener answering the protocol. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    void this.route(req)
      .then(({ status, body }) => {
        res.writeHead(status, body === undefined ? {} : { 'Content-Type': MEDIA_TYPE });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      })
      .catch((err: unknown) => {
        const status = err instanceof RequestError ? err.status : 500;
        const message = err instanceof Error ? err.message : String(err);
        this.log.warn(
          { method: req.method, url: req.url, status, err: message },
          'webhook request failed',
        );
        // A short plain body: external-dns drains and logs it.
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(message.slice(0, 4096));
      });
  };

  private async route(req: IncomingMessage): Promise<{ status: number; body?: unknown }> {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    switch (route) {
      case 'GET /':
        return { status: 200, body: await this.negotiate() };
      case 'GET /records':
        return { status: 200, body: await this.records() };
      case 'POST /adjustendpoints':
        return { status: 200, body: this.adjust(await this.body<WebhookEndpoint[] | null>(req)) };
      case 'POST /records':
        await this.applyChanges(await this.body<WebhookChanges | null>(req));
        return { status: 204 };
      default:
        throw new RequestError(
          path === '/' || path === '/records' || path === '/adjustendpoints' ? 405 : 404,
          `${route}: not part of the webhook provider API`,
        );
    }
  }

  /** The zones served, as external-dns's DomainFilter. */
  private async negotiate(): Promise<WebhookDomainFilter> {
    const names = (await this.zones()).map((z) => z.name).sort();
    return { include: names, ...(this.exclude.length ? { exclude: this.exclude } : {}) };
  }

  private async zones(): Promise<Zone[]> {
    const zones = await this.provider.zones();
    // A zone under a filtered domain, or holding one (external-dns's rule for zones).
    const wanted = (z: Zone) =>
      this.include.length === 0 || this.include.some((d) => inZone(z.name, d) || inZone(d, z.name));
    return zones.filter((z) => wanted(z) && !underAny(z.name, this.exclude));
  }

  private async records(): Promise<WebhookEndpoint[]> {
    const zones = await this.zones();
    const lists = await Promise.all(zones.map((z) => this.provider.records(z)));
    return lists
      .flat()
      .filter((r) => !underAny(r.name, this.exclude))
      .map((r) => toEndpoint(r));
  }

  /**
   * How each endpoint will be stored: names and values normalised, a missing TTL made the
   * default, provider-specific properties dropped (this server stores none). Endpoints it
   * cannot store (other types, routing-policy sets) are left out, so external-dns does not
   * plan them.
   */
  private adjust(endpoints: WebhookEndpoint[] | null): WebhookEndpoint[] {
    return (endpoints ?? []).flatMap((ep) => {
      const record = this.model(ep);
      if (!record) return [];
      const adjusted: WebhookEndpoint = { ...ep, ...toEndpoint(record) };
      delete adjusted.providerSpecific;
      return [adjusted];
    });
  }

  /** An endpoint as a record set this provider can write, or undefined. */
  private model(ep: WebhookEndpoint): RecordSet | undefined {
    const record = fromEndpoint(ep);
    if (!record || !this.provider.capabilities.recordTypes.includes(record.type)) return undefined;
    return record.ttl > 0 ? record : { ...record, ttl: this.defaultTTL };
  }

  /** external-dns's plan, applied zone by zone; any change not applied fails the request. */
  private async applyChanges(changes: WebhookChanges | null): Promise<void> {
    const list = this.changeList(changes ?? {});
    const zones = await this.zones();
    const byZone = new Map<Zone, Change[]>();
    for (const change of list) {
      const zone = mostSpecificZone(change.record.name, zones);
      if (!zone || underAny(change.record.name, this.exclude)) {
        throw new RequestError(400, `${change.record.name} is in no zone this webhook serves`);
      }
      byZone.set(zone, [...(byZone.get(zone) ?? []), change]);
    }
    const failures: string[] = [];
    for (const [zone, zoneChanges] of byZone) {
      const result = await this.provider.apply(zone, zoneChanges);
      for (const f of result.failed)
        failures.push(
          `${f.change.action} ${f.change.record.name}/${f.change.record.type}: ${f.error.message}`,
        );
    }
    this.log.info({ changes: list.length, failed: failures.length }, 'changes applied');
    if (failures.length > 0) throw new RequestError(500, failures.join('; '));
  }

  /** plan.Changes as model changes; `updateOld[i]` pairs with `updateNew[i]`. */
  private changeList(c: WebhookChanges): Change[] {
    const record = (ep: WebhookEndpoint, list: string): RecordSet => {
      const r = this.model(ep);
      if (!r)
        throw new RequestError(
          400,
          `${list}: ${ep.dnsName}/${ep.recordType} cannot be stored here`,
        );
      return r;
    };
    const olds = c.updateOld ?? [];
    const news = c.updateNew ?? [];
    if (olds.length !== news.length) {
      throw new RequestError(
        400,
        `updateOld has ${olds.length} endpoints, updateNew ${news.length}`,
      );
    }
    return [
      ...(c.delete ?? []).map((ep): Change => ({ action: 'delete', record: record(ep, 'delete') })),
      ...olds.map(
        (ep, i): Change => ({
          action: 'update',
          old: record(ep, 'updateOld'),
          record: record(news[i]!, 'updateNew'),
        }),
      ),
      ...(c.create ?? []).map((ep): Change => ({ action: 'create', record: record(ep, 'create') })),
    ];
  }

  private async body<T>(req: IncomingMessage): Promise<T> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.maxBody)
        throw new RequestError(413, `request body over ${this.maxBody} bytes`);
      chunks.push(chunk as Buffer);
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
    } catch (err) {
      throw new RequestError(400, `request body is not JSON: ${(err as Error).message}`);
    }
  }
}

/** A listening webhook server. */
export interface RunningWebhookServer {
  server: Server;
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

/** Serves `opts.provider` over the protocol on `host:port` (0: any free port). */
export async function startWebhookServer(
  opts: WebhookServerOptions & { host?: string; port?: number },
): Promise<RunningWebhookServer> {
  const handler = new WebhookServer(opts);
  const server = createServer(handler.handle);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
