import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Cache, InformerScope } from '../cache/cache.js';
import type { Informer } from '../cache/informer.js';
import type { ResourceType } from '../client/resource.js';
import type { KubeObject } from '../client/types.js';
import { silentLogger } from '../log/logger.js';
import { counter, exponentialBuckets, gauge, histogram } from '../metrics/registry.js';
import type { RateLimiter } from '../queue/rate-limiter.js';
import { WorkQueue } from '../queue/work-queue.js';
import { whenAborted } from '../util/async.js';
import { admits, type Predicate } from './predicates.js';
import { type Reconciler, type Request, TerminalError } from './reconciler.js';
import type { RequestKind } from './requests.js';

/** Where a controller's requests come from: a kind, which of its objects, and how to map. */
export interface Source<T extends KubeObject = KubeObject, Req = Request> {
  resource: ResourceType<T>;
  scope?: InformerScope;
  predicates?: Predicate<T>[];
  /** The requests an event on `obj` causes. */
  map(obj: T): Req[];
  /** The kind the controller is for: what a periodic resync goes over. */
  primary?: boolean;
}

export interface ControllerOptions {
  /** Reconciles running at once (never two for one key). Default 1. */
  maxConcurrentReconciles?: number;
  /** Default: per-key 5 ms -> 1000 s exponential, max'ed with a 10 qps / 100 burst bucket. */
  rateLimiter?: RateLimiter<string>;
  /** Reconcile every primary object this often, to repair drift nobody announced. */
  resyncPeriodMs?: number;
  /** How long in-flight reconciles may finish on shutdown. Default 30 s. */
  gracefulShutdownTimeoutMs?: number;
  logger?: Logger;
}

const reconcileTotal = counter(
  'controller_runtime_reconcile_total',
  'Total number of reconciliations per controller',
  ['controller', 'result'],
);
const reconcileErrors = counter(
  'controller_runtime_reconcile_errors_total',
  'Total number of reconciliation errors per controller',
  ['controller'],
);
const terminalErrors = counter(
  'controller_runtime_terminal_reconcile_errors_total',
  'Total number of terminal reconciliation errors per controller',
  ['controller'],
);
const reconcileTime = histogram(
  'controller_runtime_reconcile_time_seconds',
  'Length of time per reconciliation per controller',
  ['controller'],
  [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
  ],
);
const activeWorkers = gauge(
  'controller_runtime_active_workers',
  'Number of currently used workers per controller',
  ['controller'],
);
const maxConcurrent = gauge(
  'controller_runtime_max_concurrent_reconciles',
  'Maximum number of concurrent reconciles per controller',
  ['controller'],
);
// Not in controller-runtime: how long a key waited from its event to its reconcile start
// is the figure users feel; the queue's own histogram covers it, this names the controller.
const reconcileStartLatency = histogram(
  'chousei_reconcile_start_latency_seconds',
  'Time from an event to the start of the reconcile it caused',
  ['controller'],
  exponentialBuckets(0.001, 2, 16),
);

/**
 * Runs a Reconciler over a work queue fed by informer events: deduplicated keys, never one
 * key in two workers, per-key backoff on errors, requeue on request, periodic resync.
 * Requests are of any type `Req` its RequestKind turns into queue keys and back.
 */
export class Controller<Req = Request> {
  readonly queue: WorkQueue<string>;
  private readonly log: Logger;
  private readonly workers: number;
  private readonly eventTimes = new Map<string, number>();
  private informers: Informer<KubeObject>[] | undefined;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    readonly name: string,
    private readonly requests: RequestKind<Req>,
    private readonly reconciler: Reconciler<Req>,
    private readonly sources: Source<KubeObject, Req>[],
    private readonly opts: ControllerOptions = {},
  ) {
    this.workers = opts.maxConcurrentReconciles ?? 1;
    this.log = (opts.logger ?? silentLogger).child({ controller: name });
    this.queue = new WorkQueue<string>({
      name,
      ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
    });
  }

  /** Queues a reconcile of `request` (deduplicated with any already waiting). */
  enqueue(request: Req): void {
    const key = this.requests.key(request);
    if (!this.eventTimes.has(key)) this.eventTimes.set(key, performance.now());
    this.queue.add(key);
  }

  /**
   * Hooks the sources to their informers in `cache` (once): from then on events queue
   * requests, even before the workers run, so a replica that becomes leader starts with
   * every key queued and a warm cache.
   */
  bind(cache: Cache): Informer<KubeObject>[] {
    if (this.informers) return this.informers;
    this.informers = this.sources.map((source) => {
      const informer = cache.informer(source.resource, source.scope);
      this.unsubscribe.push(informer.addHandler(this.handlerFor(source)));
      return informer;
    });
    this.reconciler.attach?.({ informers: this.informers, enqueue: (r) => this.enqueue(r) });
    return this.informers;
  }

  /**
   * Waits for the sources' informers to list, and runs the workers until `signal` aborts;
   * then stops taking work and lets in-flight reconciles finish within the grace period.
   */
  async start(cache: Cache, signal: AbortSignal): Promise<void> {
    const informers = this.bind(cache);
    cache.start(signal);
    await Promise.all(informers.map((i) => i.waitForSync(signal)));
    if (signal.aborted) {
      // Stopped before its first list finished (a cold start): no worker ever ran.
      for (const un of this.unsubscribe.splice(0)) un();
      this.informers = undefined;
      this.queue.shutDown();
      this.log.info({ synced: false }, 'stopped');
      return;
    }

    maxConcurrent.set({ controller: this.name }, this.workers);
    // From 0, as controller-runtime's: a rate() of a series born with its first error
    // misses that error.
    const controller = { controller: this.name };
    for (const result of ['success', 'error', 'requeue', 'requeue_after'])
      reconcileTotal.inc({ ...controller, result }, 0);
    reconcileErrors.inc(controller, 0);
    terminalErrors.inc(controller, 0);
    this.log.info({ workers: this.workers }, 'starting workers');
    const reconcileAbort = new AbortController();
    const resync = this.opts.resyncPeriodMs
      ? setInterval(() => this.resync(), this.opts.resyncPeriodMs).unref()
      : undefined;
    const workers = Array.from({ length: this.workers }, () =>
      this.work(reconcileAbort.signal, signal),
    );

    await whenAborted(signal);
    clearInterval(resync);
    for (const un of this.unsubscribe.splice(0)) un();
    this.informers = undefined;
    this.queue.shutDown();
    const grace = this.opts.gracefulShutdownTimeoutMs ?? 30_000;
    const drained = await this.queue.drain(grace);
    if (!drained) {
      this.log.warn({ graceMs: grace }, 'in-flight reconciles did not finish in time, cancelling');
    }
    reconcileAbort.abort();
    await Promise.all(workers);
    this.log.info('stopped');
  }

  private handlerFor(source: Source<KubeObject, Req>) {
    const predicates = source.predicates ?? [];
    const push = (obj: KubeObject) => {
      for (const req of source.map(obj)) this.enqueue(req);
    };
    return {
      onAdd: (obj: KubeObject) => {
        if (admits(predicates, 'create', obj)) push(obj);
      },
      onUpdate: (old: KubeObject, current: KubeObject) => {
        if (source.primary && this.reconciler.wroteItself?.(old, current)) return;
        if (admits(predicates, 'update', old, current)) push(current);
      },
      onDelete: (obj: KubeObject) => {
        if (admits(predicates, 'delete', obj)) push(obj);
      },
    };
  }

  /** Maps every object of the primary kind again (of every kind, without one). */
  private resync(): void {
    const informers = this.informers;
    if (!informers) return;
    const hasPrimary = this.sources.some((s) => s.primary);
    this.sources.forEach((source, i) => {
      if (hasPrimary && !source.primary) return;
      const store = informers[i]!.store;
      this.log.debug({ kind: source.resource.kind, objects: store.size }, 'periodic resync');
      for (const obj of store.list()) for (const req of source.map(obj)) this.enqueue(req);
    });
  }

  private async work(signal: AbortSignal, stopping: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(key, signal, stopping);
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(
    key: string,
    signal: AbortSignal,
    stopping: AbortSignal,
  ): Promise<void> {
    const request = this.requests.parse(key);
    const reconcileID = randomUUID();
    // Made when first used: most reconciles log nothing, and a child logger for each would be
    // garbage by the thousand in a burst of events.
    let child: Logger | undefined;
    const logger = () =>
      (child ??= this.log.child({ ...this.requests.logFields(request), reconcileID }));
    const queuedAt = this.eventTimes.get(key);
    this.eventTimes.delete(key);
    if (queuedAt !== undefined) {
      reconcileStartLatency.observe(
        { controller: this.name },
        (performance.now() - queuedAt) / 1000,
      );
    }
    const labels = { controller: this.name };
    activeWorkers.inc(labels);
    const end = reconcileTime.startTimer(labels);
    try {
      const result = await this.reconciler.reconcile(request, {
        signal,
        stopping,
        get log() {
          return logger();
        },
        reconcileID,
        controller: this.name,
      });
      this.queue.forget(key);
      if (result?.requeueAfter !== undefined && result.requeueAfter >= 0) {
        this.queue.addAfter(key, result.requeueAfter);
        reconcileTotal.inc({ ...labels, result: 'requeue_after' });
      } else {
        reconcileTotal.inc({ ...labels, result: 'success' });
      }
    } catch (err) {
      reconcileErrors.inc(labels);
      reconcileTotal.inc({ ...labels, result: 'error' });
      if (cancelledBy(err, signal, stopping)) {
        // Cancelled by the shutdown: not a failure of the reconcile.
        logger().info({ err: (err as Error)?.message }, 'reconcile cancelled: stopping');
      } else if (err instanceof TerminalError) {
        terminalErrors.inc(labels);
        this.queue.forget(key);
        logger().error({ err }, 'reconcile failed with a terminal error, not retrying');
      } else {
        this.queue.addRateLimited(key);
        logger().error(
          { err, retries: this.queue.numRequeues(key) },
          'reconcile failed, will retry',
        );
      }
    } finally {
      end();
      activeWorkers.dec(labels);
    }
  }
}

/** Whether a reconcile's error is the shutdown's: the grace period over, or a wait it ended. */
function cancelledBy(err: unknown, signal: AbortSignal, stopping: AbortSignal): boolean {
  if (signal.aborted) return true;
  return stopping.aborted && (err === stopping.reason || (err as Error)?.name === 'AbortError');
}

/** Maps an owned object to its controller owner of kind `owner`, if it has one. */
export function ownerRequests(owner: ResourceType): (obj: KubeObject) => Request[] {
  const ownerGroup = groupOf(owner.apiVersion);
  return (obj) => {
    const ref = obj.metadata?.ownerReferences?.find(
      (r) => r.controller && r.kind === owner.kind && groupOf(r.apiVersion) === ownerGroup,
    );
    if (!ref) return [];
    return [
      owner.namespaced
        ? { namespace: obj.metadata?.namespace ?? '', name: ref.name }
        : { name: ref.name },
    ];
  };
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
