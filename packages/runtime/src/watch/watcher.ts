import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { apiError, GoneError, type Status } from '../client/errors.js';
import { groupKind, type ResourceType, resourcePath } from '../client/resource.js';
import { bodyChunks, type Transport } from '../client/transport.js';
import type { KubeObject, ObjectList } from '../client/types.js';
import { silentLogger } from '../log/logger.js';
import { counter } from '../metrics/registry.js';
import { sleep } from '../util/async.js';
import { type BackoffOptions, backoffDelay } from '../util/backoff.js';

/**
 * What a watcher reports. A `relist` carries the complete current set (after the first
 * list and after every 410 Gone), so a store can swap its content atomically instead of
 * flickering through deletes and adds.
 */
export type WatchEvent<T> =
  | { type: 'relist'; objects: T[]; resourceVersion: string }
  | { type: 'applied'; object: T }
  | { type: 'deleted'; object: T };

export interface WatchScope {
  /** Watch one namespace; cluster-wide when unset. */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Ask for PartialObjectMetadata only: for kinds whose bodies are not needed. */
  metadataOnly?: boolean | undefined;
}

export interface WatcherOptions<T> extends WatchScope {
  /** List page size, default 500. */
  pageSize?: number;
  /** Start watching from here instead of listing first (a 410 falls back to a list). */
  resourceVersion?: string;
  /**
   * A connection that delivers no byte for this long is stalled and is reopened. The API
   * server sends bookmarks about every minute, so the default 150 s never fires on a
   * healthy connection.
   */
  inactivityTimeoutMs?: number;
  /** Server-side watch timeout; default a random 5-10 minutes, spreading reconnects. */
  watchTimeoutSeconds?: number;
  backoff?: BackoffOptions;
  /** Applied to every object as it arrives (e.g. to drop fields and save memory). */
  transform?: (obj: T) => T;
  logger?: Logger;
}

interface RawEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T | Status;
}

const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const METADATA_OBJECT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

const relists = counter('chousei_watch_relists_total', 'Full lists made by watchers', ['resource']);
const reconnects = counter('chousei_watch_reconnects_total', 'Watch connections reopened', [
  'resource',
  'reason',
]);
const RECONNECT_REASONS = ['closed', 'gone', 'stalled', 'error'] as const;

class StallError extends Error {
  override name = 'StallError';
}
const stall = (ms: number) => new StallError(`no data for ${ms} ms`);

/**
 * The list + watch state machine: a paginated list, then a watch from the list's
 * resourceVersion with bookmarks; a silent stall or a dropped connection reconnects from
 * the last resourceVersion with capped, jittered backoff; a 410 Gone lists again.
 */
export class Watcher<T extends KubeObject> {
  private readonly log: Logger;
  private readonly label: string;

  constructor(
    private readonly transport: Transport,
    private readonly rt: ResourceType<T>,
    private readonly opts: WatcherOptions<T> = {},
  ) {
    this.label = groupKind(rt);
    // From 0, so a rate() sees the first reconnect of each reason.
    relists.inc({ resource: this.label }, 0);
    for (const reason of RECONNECT_REASONS) reconnects.inc({ resource: this.label, reason }, 0);
    this.log = (opts.logger ?? silentLogger).child({
      resource: this.label,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
    });
  }

  /** Runs until `signal` aborts; never throws for server or network trouble. */
  async *events(signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    let rv = this.opts.resourceVersion;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (!rv) {
          const list = await this.list(signal);
          rv = list.metadata.resourceVersion ?? '';
          relists.inc({ resource: this.label });
          failures = 0;
          yield { type: 'relist', objects: list.items, resourceVersion: rv };
        }
        const opened = Date.now();
        for await (const ev of this.watch(rv, signal)) {
          if (ev.type === 'ERROR') {
            const status = ev.object as Status;
            throw apiError('WATCH', this.path(), status.code ?? 500, JSON.stringify(status));
          }
          const obj = ev.object as T;
          rv = obj.metadata?.resourceVersion ?? rv;
          failures = 0;
          if (ev.type === 'BOOKMARK') continue;
          const object = this.opts.transform ? this.opts.transform(obj) : obj;
          yield ev.type === 'DELETED' ? { type: 'deleted', object } : { type: 'applied', object };
        }
        // The server closed the watch (its timeout): reopen at once from where we are.
        reconnects.inc({ resource: this.label, reason: 'closed' });
        this.log.debug(
          { resourceVersion: rv, openMs: Date.now() - opened },
          'watch closed, reopening',
        );
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof GoneError) {
          // Our resourceVersion is older than the server keeps: start over with a list.
          reconnects.inc({ resource: this.label, reason: 'gone' });
          this.log.info(
            { resourceVersion: rv },
            'resourceVersion too old (410 Gone), listing again',
          );
          rv = undefined;
          continue;
        }
        failures++;
        const reason: (typeof RECONNECT_REASONS)[number] =
          err instanceof StallError ? 'stalled' : 'error';
        reconnects.inc({ resource: this.label, reason });
        const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
        const delay = backoffDelay(failures, this.opts.backoff, (retryAfter ?? 0) * 1000);
        this.log.warn(
          {
            err: (err as Error).message,
            failures,
            retryInMs: Math.round(delay),
            resourceVersion: rv,
          },
          reason === 'stalled' ? 'watch stalled, reconnecting' : 'watch failed, retrying',
        );
        await sleep(delay, signal);
      }
    }
  }

  private path(): string {
    return resourcePath(this.rt, { namespace: this.opts.namespace });
  }

  private async list(signal: AbortSignal): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    const transform = this.opts.transform;
    do {
      const page = await this.transport.request<ObjectList<T>>('GET', this.path(), {
        query: {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          limit: this.opts.pageSize ?? 500,
          continue: cont,
        },
        accept: this.opts.metadataOnly ? `${METADATA_LIST},application/json` : undefined,
        signal,
      });
      // Transform page by page, so the raw page can be collected before the next one. An
      // empty PartialObjectMetadataList comes with `items: null`.
      for (const item of page.items ?? []) {
        // List items of built-in kinds come without apiVersion and kind (watch events carry
        // them): stamp them, or Events about cached objects would name no kind.
        if (!this.opts.metadataOnly) {
          item.apiVersion ??= this.rt.apiVersion;
          item.kind ??= this.rt.kind;
        }
        items.push(transform ? transform(item) : item);
      }
      cont = page.metadata.continue;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    return { metadata: { resourceVersion }, items };
  }

  private async *watch(rv: string, signal: AbortSignal): AsyncGenerator<RawEvent<T>> {
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? Math.round(300 + Math.random() * 300);
    const inactivityMs = this.opts.inactivityTimeoutMs ?? 150_000;
    const res = await this.transport.open('GET', this.path(), {
      query: {
        watch: 1,
        resourceVersion: rv,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
      },
      accept: this.opts.metadataOnly ? `${METADATA_OBJECT},application/json` : undefined,
      signal,
      // The connect itself must not hang either (a frozen server accepts TCP and stays mute).
      timeoutMs: inactivityMs,
    });
    if (res.statusCode !== 200) {
      let body = '';
      for await (const chunk of bodyChunks(res, inactivityMs, () => stall(inactivityMs)))
        body += chunk;
      throw apiError('WATCH', this.path(), res.statusCode ?? 0, body, res.headers['retry-after']);
    }
    yield* readEvents<T>(res, inactivityMs);
  }
}

/** Splits a watch stream into events; destroys it when no byte arrives for `inactivityMs`. */
async function* readEvents<T>(
  res: IncomingMessage,
  inactivityMs: number,
): AsyncGenerator<RawEvent<T>> {
  let buffered = '';
  try {
    for await (const chunk of bodyChunks(res, inactivityMs, () => stall(inactivityMs))) {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line.trim()) yield JSON.parse(line) as RawEvent<T>;
        newline = buffered.indexOf('\n');
      }
    }
  } finally {
    res.destroy();
  }
}
