import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Writer } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import { Events } from '../client/resource.js';
import type { Event, KubeObject } from '../client/types.js';
import { type Logger, silentLogger } from '../log/logger.js';

export type EventType = 'Normal' | 'Warning';

/** What the recorder needs of a client: create Events and patch their series. */
export type EventClient = Pick<Writer, 'create' | 'patch'>;

/** The ObjectReference of an events.k8s.io/v1 Event (`regarding`, `related`). */
export type EventObjectReference = NonNullable<Event['regarding']>;

export interface EventRecorderOptions {
  /** reportingController, e.g. `example.com/my-operator`. */
  controller: string;
  /** reportingInstance; default the host name (the pod name in a cluster). */
  instance?: string;
  logger?: Logger;
  /** Repeats this soon after the previous one join its series, default 6 minutes. */
  seriesWindowMs?: number;
  /** At most one series update per event per this interval, default 30 seconds. */
  seriesUpdateIntervalMs?: number;
  /**
   * Event writes in flight at once, default 2. Writes share the client's rate limit with
   * reconciles: a burst of Events (thousands at a cold start) waits its turn here instead
   * of queueing ahead of every reconcile's requests.
   */
  maxConcurrentWrites?: number;
}

/** The API's limit on `note`, in bytes. */
const NOTE_LIMIT = 1024;
/** Bounds memory when many distinct events fire within one window. */
const MAX_SERIES = 4096;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * One distinct event and its repeats: the state of one Event object in the API. It is kept
 * for the whole window after its last repeat, so between writes it holds only counts and
 * times: a repeat brings the Event's content again.
 */
interface Series {
  readonly namespace: string;
  /**
   * The Event to write, without metadata, times and series; set while the API is behind
   * (`count > written`), dropped once written.
   */
  body?: Omit<Event, 'eventTime'>;
  /** Name of the Event in the API once created. */
  name?: string;
  count: number;
  /** The count the API has (0: not created yet). */
  written: number;
  /** When the first of the series was observed: the Event's eventTime. */
  readonly firstObserved: number;
  lastObserved: number;
  lastWrite: number;
  /** A write is scheduled for the next allowed moment. */
  timer?: NodeJS.Timeout;
  /** A write is waiting for its turn and has not started yet; it will carry the latest count. */
  queued: boolean;
  /** The write in progress, if any: a series update must follow the create. */
  writing?: Promise<void>;
}

/**
 * Records events.k8s.io/v1 Events about objects, like client-go's event recorder.
 * `event()` never throws and never waits for the API: writes happen in the background
 * and failures are logged, because an event is never worth failing or slowing a reconcile.
 *
 * Identical events (same object, type, reason, action, note and related object) within
 * `seriesWindowMs` of the previous one are one Event whose `series` counts the repeats,
 * so a controller stuck in an error loop writes one object, not thousands. Series updates
 * are rate limited per Event: the latest count is written at the next allowed moment, or
 * by `flush()`, which tests and shutdown call to write everything pending. Writes go out a
 * few at a time, oldest first, so Events never crowd out a controller's own requests.
 */
export class EventRecorder {
  private readonly controller: string;
  private readonly instance: string;
  private readonly log: Logger;
  private readonly window: number;
  private readonly interval: number;
  /** By key, in order of last observation (re-inserted on every repeat). */
  private readonly series = new Map<string, Series>();
  /** Series waiting for a write slot, oldest first. */
  private readonly waiting: Series[] = [];
  private readonly writes = new Set<Promise<void>>();
  private readonly maxWrites: number;
  private idle: Array<() => void> = [];
  private lastSweep = Date.now();

  constructor(
    private readonly client: EventClient,
    opts: EventRecorderOptions,
  ) {
    this.controller = opts.controller;
    this.instance = opts.instance ?? hostname();
    this.log = (opts.logger ?? silentLogger).child({ component: 'event-recorder' });
    this.window = opts.seriesWindowMs ?? 6 * 60_000;
    this.interval = opts.seriesUpdateIntervalMs ?? 30_000;
    this.maxWrites = Math.max(1, opts.maxConcurrentWrites ?? 2);
  }

  /**
   * Records that `action` was taken (or failed) on `regarding` because of `reason`.
   * `regarding` needs apiVersion and kind (list items of built-in kinds lack them).
   */
  event(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    related?: KubeObject,
  ): void {
    try {
      this.record(regarding, type, reason, action, note, related);
    } catch (err) {
      this.log.error({ err, reason, action }, 'failed to record event');
    }
  }

  /**
   * Writes every pending series update now and waits for all writes. When `signal` aborts
   * first (a shutdown out of time), writes not yet started are dropped, with one warning
   * counting them, and it returns without waiting for those in flight.
   */
  async flush(signal?: AbortSignal): Promise<void> {
    for (const st of this.series.values()) {
      if (st.timer) {
        clearTimeout(st.timer);
        st.timer = undefined;
      }
      if (st.count !== st.written) this.enqueue(st);
    }
    if (this.waiting.length === 0 && this.writes.size === 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', giveUp);
        resolve();
      };
      const giveUp = () => {
        this.idle = this.idle.filter((f) => f !== done);
        const dropped = this.waiting.splice(0);
        for (const st of dropped) st.queued = false;
        if (dropped.length || this.writes.size) {
          this.log.warn(
            { dropped: dropped.length, inFlight: this.writes.size },
            'out of time: Events not written',
          );
        }
        resolve();
      };
      this.idle.push(done);
      if (signal?.aborted) giveUp();
      else signal?.addEventListener('abort', giveUp, { once: true });
    });
  }

  private record(
    regarding: KubeObject,
    type: EventType,
    reason: string,
    action: string,
    note: string,
    related: KubeObject | undefined,
  ): void {
    const now = Date.now();
    this.sweep(now);
    const ref = objectReference(regarding);
    const relatedRef = related && objectReference(related);
    const body: Omit<Event, 'eventTime'> = {
      reportingController: this.controller,
      reportingInstance: this.instance,
      regarding: ref,
      ...(relatedRef && { related: relatedRef }),
      type,
      reason,
      action,
      note: truncateNote(note),
    };
    // A digest, not the text: a series outlives its write by a whole window, and the note
    // is most of the text.
    const key = createHash('sha256')
      .update(
        JSON.stringify([
          refKey(ref),
          relatedRef && refKey(relatedRef),
          type,
          reason,
          action,
          body.note,
        ]),
      )
      .digest('base64');

    const existing = this.series.get(key);
    if (existing) this.series.delete(key);
    if (existing && now - existing.lastObserved < this.window) {
      existing.count++;
      existing.lastObserved = now;
      existing.body = body;
      this.series.set(key, existing);
      this.schedule(existing, now);
      return;
    }
    if (existing) this.retire(existing);

    const st: Series = {
      namespace: ref.namespace || 'default',
      body,
      count: 1,
      written: 0,
      firstObserved: now,
      lastObserved: now,
      lastWrite: 0,
      queued: false,
    };
    this.series.set(key, st);
    this.enqueue(st);
    if (this.series.size > MAX_SERIES) {
      const [oldestKey, oldest] = this.series.entries().next().value ?? [];
      if (oldestKey !== undefined && oldest) {
        this.series.delete(oldestKey);
        this.retire(oldest);
      }
    }
  }

  /** Writes the series now if its interval has passed, else once it has. */
  private schedule(st: Series, now: number): void {
    // A write already waiting reads the count when it runs, so it carries this repeat too.
    if (st.timer || st.queued) return;
    const wait = st.lastWrite + this.interval - now;
    if (wait <= 0) {
      this.enqueue(st);
      return;
    }
    st.timer = setTimeout(() => {
      st.timer = undefined;
      this.enqueue(st);
    }, wait);
    // Never keep the process alive for an event: shutdown calls flush().
    st.timer.unref();
  }

  private enqueue(st: Series): void {
    if (st.queued) return;
    st.queued = true;
    this.waiting.push(st);
    this.pump();
  }

  /** Starts waiting writes while slots are free; a series being written waits its turn. */
  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.writes.size < this.maxWrites; ) {
      const st = this.waiting[i]!;
      if (st.writing) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      // write() catches its own errors; the catch only keeps a bug from stalling the queue.
      const write = this.write(st)
        .catch((err: unknown) => this.log.error({ err }, 'event recorder write failed'))
        .finally(() => {
          st.writing = undefined;
          this.writes.delete(write);
          this.pump();
        });
      st.writing = write;
      this.writes.add(write);
    }
    if (this.waiting.length === 0 && this.writes.size === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  /** Brings the Event in the API up to date with `st`; never rejects. */
  private async write(st: Series): Promise<void> {
    st.queued = false;
    const count = st.count;
    const body = st.body;
    if (count === st.written || !body) return;
    st.lastWrite = Date.now();
    const series =
      count > 1 ? { count, lastObservedTime: microTime(new Date(st.lastObserved)) } : undefined;
    try {
      if (st.name && series) {
        try {
          await this.client.patch(
            Events,
            { namespace: st.namespace, name: st.name },
            { type: 'merge', patch: { series } },
          );
          this.written(st, count);
          return;
        } catch (err) {
          // Expired (the API server's event TTL) or deleted: start a new Event that carries
          // the series so far.
          if (!isNotFound(err)) throw err;
        }
      }
      const name = eventName(body.regarding?.name ?? '');
      await this.client.create(Events, {
        ...body,
        eventTime: microTime(new Date(st.firstObserved)),
        metadata: { name, namespace: st.namespace },
        ...(series && { series }),
      });
      st.name = name;
      this.written(st, count);
    } catch (err) {
      const { regarding, reason, action } = body;
      this.log.error(
        { err, regarding: `${regarding?.kind}/${regarding?.name}`, reason, action, count },
        'failed to record event',
      );
    }
  }

  /** The API has `count`; the Event is dropped unless a repeat came in the meantime. */
  private written(st: Series, count: number): void {
    st.written = count;
    if (st.count === count) st.body = undefined;
  }

  /** Forgets series that have been quiet for a whole window, at most once per window. */
  private sweep(now: number): void {
    if (now - this.lastSweep < Math.min(this.window, 60_000)) return;
    this.lastSweep = now;
    for (const [key, st] of this.series) {
      // Ordered by last observation: the first recent one ends the sweep.
      if (now - st.lastObserved < this.window) break;
      this.series.delete(key);
      this.retire(st);
    }
  }

  /** Drops a series from the map; a count not yet written is written now, not lost. */
  private retire(st: Series): void {
    if (st.timer) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
    if (st.count !== st.written) this.enqueue(st);
  }
}

function objectReference(obj: KubeObject): EventObjectReference {
  const m = obj.metadata ?? {};
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
  };
}

/** Identity of an object across resourceVersions; falls back to its name without a uid. */
function refKey(ref: EventObjectReference): string {
  return ref.uid ?? `${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ''}/${ref.name ?? ''}`;
}

/** Cuts `note` to the API's byte limit, on a character boundary, marked with `...`. */
function truncateNote(note: string): string {
  const bytes = Buffer.from(note);
  if (bytes.length <= NOTE_LIMIT) return note;
  let end = NOTE_LIMIT - 3;
  // Back off UTF-8 continuation bytes so no character is split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString()}...`;
}

/** metav1.MicroTime: RFC 3339 with 6 fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** `<regarding name>.<random hex>`, made a valid DNS subdomain (names like `system:x` are not). */
function eventName(regardingName: string): string {
  let base = DNS_SUBDOMAIN.test(regardingName)
    ? regardingName
    : regardingName.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  base = base.slice(0, 253 - 17).replace(/^[-.]+|[-.]+$/g, '') || 'event';
  return `${base}.${randomBytes(8).toString('hex')}`;
}
