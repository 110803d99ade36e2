import type { Logger } from 'pino';
import { Cache } from '../cache/cache.js';
import { Client } from '../client/client.js';
import type { TransportOptions } from '../client/transport.js';
import { ControllerBuilder } from '../controller/builder.js';
import type { Controller } from '../controller/controller.js';
import type { RequestKind } from '../controller/requests.js';
import { EventRecorder } from '../helpers/events.js';
import type { ClusterAccess } from '../kubeconfig/access.js';
import { silentLogger } from '../log/logger.js';
import { BucketRateLimiter } from '../queue/rate-limiter.js';
import { whenAborted } from '../util/async.js';
import type { WebhookServer } from '../webhook/server.js';
import { type LeaderElectionOptions, LeaderElector } from './leader-election.js';
import { type Check, ProbeServer } from './probes.js';

/** Anything the manager runs beside controllers, e.g. a webhook server or a solver. */
export interface Runnable {
  name: string;
  /** Runs until `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
  /** true: only on the leader (like controllers); false: on every replica (webhooks). */
  needsLeaderElection: boolean;
}

export interface ManagerOptions {
  kubeConfig: ClusterAccess;
  logger?: Logger;
  /** Run controllers only while holding this Lease. Off when unset. */
  leaderElection?: LeaderElectionOptions;
  /** Port for /healthz and /readyz; default 8081; false: none. */
  healthProbePort?: number | false;
  /** Port for /metrics; default 8080; false: none. Equal to a non-zero probe port: one server. */
  metricsPort?: number | false;
  /** Address the probe and metrics servers bind (and `bindAddress` tells), default 0.0.0.0. */
  bindAddress?: string;
  /**
   * How long a shutdown may take in all, default 30 s (a pod's default
   * terminationGracePeriodSeconds): in-flight reconciles get all of it but the last tenth
   * (at most 3 s), its closing time; pending Events get at most the closing time, then the
   * Lease is released; whatever still runs at the end is left behind.
   */
  gracefulShutdownTimeoutMs?: number;
  /** Client-side limit on API requests, as in client-go: default 20 qps, burst 30. */
  qps?: number;
  burst?: number;
}

export interface WebhookServerRunOptions {
  /**
   * Awaited before the server starts, which reads its certificate files at once: for a
   * serving certificate the operator writes itself. Resolve when the files are there, or
   * when `signal` aborts.
   */
  startAfter?: (signal: AbortSignal) => Promise<void>;
}

/** The leader Lease could not be renewed: this process must stop working at once. */
export class LeaderElectionLostError extends Error {
  override name = 'LeaderElectionLostError';
}

/**
 * A runnable or controller failed while the manager ran: the manager stopped everything
 * else, as a process without one of its parts (a solver that cannot listen) must not go on
 * looking healthy. A restart may fix it; the cause says what went wrong.
 */
export class RunnableFailedError extends Error {
  override name = 'RunnableFailedError';
  constructor(
    readonly runnable: string,
    options: { cause: unknown },
  ) {
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${runnable} failed: ${why}`, options);
  }
}

/**
 * Runs controllers and servers together: caches, probes, metrics and webhooks on every
 * replica; controllers (and leader-only runnables) on the elected leader only.
 */
export class Manager {
  readonly client: Client;
  readonly cache: Cache;
  readonly log: Logger;
  /** ManagerOptions.bindAddress, or 0.0.0.0: where servers added beside the manager's listen. */
  readonly bindAddress: string;
  private readonly controllers: Controller[] = [];
  private readonly runnables: Runnable[] = [];
  private readonly recorders = new Map<string, EventRecorder>();
  private readonly servers: ProbeServer[] = [];
  private readonly probes: ProbeServer | undefined;
  private readonly elector: LeaderElector | undefined;
  private leaderSince: number | undefined;

  constructor(private readonly opts: ManagerOptions) {
    this.log = opts.logger ?? silentLogger;
    const bucket = new BucketRateLimiter({ qps: opts.qps ?? 20, burst: opts.burst ?? 30 });
    const transport: TransportOptions = { throttle: () => bucket.when('api') };
    this.client = new Client(opts.kubeConfig, transport);
    this.cache = new Cache(this.client.transport, { logger: this.log });
    if (opts.leaderElection) {
      this.elector = new LeaderElector(opts.kubeConfig, opts.leaderElection, this.log);
    }
    const host = opts.bindAddress ?? '0.0.0.0';
    this.bindAddress = host;
    const probePort = opts.healthProbePort ?? 8081;
    const metricsPort = opts.metricsPort ?? 8080;
    if (probePort !== false) {
      this.probes = new ProbeServer(probePort, host, probePort !== 0 && metricsPort === probePort);
      this.servers.push(this.probes);
      this.probes.health.set('ping', () => true);
      this.probes.ready.set('informers-synced', () => this.cache.synced);
    }
    if (metricsPort !== false && (metricsPort === 0 || metricsPort !== probePort)) {
      this.servers.push(new ProbeServer(metricsPort, host, true));
    }
  }

  /**
   * Starts declaring a controller; `complete(reconciler)` or `reconcileObjects(...)`
   * registers it here. Its requests are ObjectKeys, or of the kind `requests` describes
   * (e.g. `namedRequests('dnsName')` for a controller of DNS names).
   */
  controller(name: string): ControllerBuilder;
  controller<Req>(name: string, requests: RequestKind<Req>): ControllerBuilder<Req>;
  controller<Req>(name: string, requests?: RequestKind<Req>): ControllerBuilder<Req> {
    const builder = new ControllerBuilder<Req>(name, requests, {
      register: (c) => this.controllers.push(c as unknown as Controller),
      logger: this.log,
      client: this.client,
    });
    // In-flight reconciles get the manager's grace period but its closing time, unless the
    // controller sets its own.
    const grace = this.grace();
    return builder.withOptions({ gracefulShutdownTimeoutMs: grace - closingTime(grace) });
  }

  private grace(): number {
    return this.opts.gracefulShutdownTimeoutMs ?? 30_000;
  }

  add(runnable: Runnable): void {
    this.runnables.push(runnable);
  }

  /**
   * Serves admission webhooks on every replica (the API server may call any of them),
   * from manager start to shutdown; the replica is not ready until it listens.
   */
  addWebhookServer(server: WebhookServer, opts: WebhookServerRunOptions = {}): void {
    let listening = false;
    this.addReadyCheck('webhook', () => listening);
    this.add({
      name: 'webhook server',
      needsLeaderElection: false,
      start: async (signal) => {
        if (opts.startAfter) {
          await opts.startAfter(signal);
          if (signal.aborted) return;
        }
        await server.start();
        listening = true;
        await whenAborted(signal);
        listening = false;
        await server.stop();
      },
    });
  }

  /**
   * The Event recorder reporting as `controller` (one per name). The manager writes its
   * pending series updates at shutdown, so repeats counted just before a stop are not lost.
   */
  eventRecorder(controller: string): EventRecorder {
    let recorder = this.recorders.get(controller);
    if (!recorder) {
      recorder = new EventRecorder(this.client, { controller, logger: this.log });
      this.recorders.set(controller, recorder);
    }
    return recorder;
  }

  addHealthCheck(name: string, check: Check): void {
    this.probes?.health.set(name, check);
  }

  addReadyCheck(name: string, check: Check): void {
    this.probes?.ready.set(name, check);
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.leaderSince !== undefined;
  }

  /** The ports the probe and metrics servers bound (after start). */
  get ports(): number[] {
    return this.servers.map((s) => s.boundPort);
  }

  /**
   * Runs until `signal` aborts, then shuts down in order, all within the grace period:
   * stop taking work, finish in-flight reconciles (cancelled when the period nears its
   * end), write pending Events, release the Lease, stop servers. Work still running when
   * the period ends is named in a warning and left behind, so the process can exit in time.
   * Rejects with LeaderElectionLostError if the Lease is lost, and with RunnableFailedError
   * (after the same orderly shutdown) if a runnable or controller fails.
   */
  async start(signal: AbortSignal): Promise<void> {
    const grace = this.grace();
    const cacheAbort = new AbortController();
    const leaderAbort = new AbortController();
    // Aborted once leader work has stopped: the Lease is renewed until then and released
    // after, so two leaders never overlap.
    const leaseAbort = new AbortController();
    const onShutdown = () => leaderAbort.abort();
    signal.addEventListener('abort', onShutdown, { once: true });

    let failed: RunnableFailedError | undefined;
    const run = (name: string, work: Promise<void>): Work => {
      const item: Work = { name, done: false, settled: Promise.resolve() };
      item.settled = (async () => {
        try {
          await work;
        } catch (err) {
          // A failure during shutdown is only told: the manager is stopping anyway.
          if (leaderAbort.signal.aborted) {
            this.log.error({ err, runnable: name }, 'runnable failed while stopping');
            return;
          }
          this.log.error({ err, runnable: name }, 'runnable failed, stopping the manager');
          failed = new RunnableFailedError(name, { cause: err });
          leaderAbort.abort();
        } finally {
          item.done = true;
        }
      })();
      return item;
    };

    for (const c of this.controllers) c.bind(this.cache);
    await Promise.all(this.servers.map((s) => s.start()));
    if (this.servers.length) this.log.info({ ports: this.ports }, 'serving probes and metrics');
    this.cache.start(cacheAbort.signal);
    const everyReplica = this.runnables
      .filter((r) => !r.needsLeaderElection)
      .map((r) => run(r.name, r.start(leaderAbort.signal)));

    let lost = false;
    const leaderWork: Work[] = [];
    let holding: Promise<'released' | 'lost'> | undefined;
    // Not elected when stopping, or when a replica's runnable failed meanwhile.
    const elected = this.elector
      ? await this.elector.acquire(leaderAbort.signal)
      : !leaderAbort.signal.aborted;
    if (elected) {
      this.leaderSince = Date.now();
      if (this.elector) {
        holding = this.elector.hold(leaseAbort.signal).then((outcome) => {
          if (outcome === 'lost') {
            lost = true;
            leaderAbort.abort();
          }
          return outcome;
        });
      }
      for (const c of this.controllers) {
        leaderWork.push(run(`controller ${c.name}`, c.start(this.cache, leaderAbort.signal)));
      }
      for (const r of this.runnables.filter((r) => r.needsLeaderElection)) {
        leaderWork.push(run(r.name, r.start(leaderAbort.signal)));
      }
    }

    await whenAborted(leaderAbort.signal);
    const outOfTime = new AbortController();
    const timer = setTimeout(() => outOfTime.abort(), grace).unref();
    if (!failed) {
      this.log.info({ graceMs: grace }, lost ? 'leader lease lost, stopping' : 'shutting down');
    }
    await untilDone(leaderWork, outOfTime.signal);
    // Events are worth a moment, not the whole period: a backlog of thousands (a cold
    // start) would otherwise hold the exit for minutes. What is left is dropped and counted.
    const eventsTimeout = AbortSignal.any([
      outOfTime.signal,
      AbortSignal.timeout(closingTime(grace)),
    ]);
    await Promise.all([...this.recorders.values()].map((r) => r.flush(eventsTimeout)));
    // Controllers are done (or out of time): only now hand the Lease over.
    leaseAbort.abort();
    if (holding) await holding;
    await untilDone(everyReplica, outOfTime.signal);
    clearTimeout(timer);
    const left = [...leaderWork, ...everyReplica].filter((w) => !w.done).map((w) => w.name);
    if (left.length) {
      this.log.warn({ graceMs: grace, running: left }, 'not stopped within the grace period');
    }
    cacheAbort.abort();
    await Promise.all(this.servers.map((s) => s.stop()));
    this.leaderSince = undefined;
    signal.removeEventListener('abort', onShutdown);
    if (lost) throw new LeaderElectionLostError('leader lease lost');
    if (failed) throw failed;
    this.log.info('stopped');
  }
}

/** A runnable or controller as the manager runs it: whether it has returned yet. */
interface Work {
  name: string;
  done: boolean;
  settled: Promise<void>;
}

/** Resolves when every piece of work has returned, or when `signal` aborts. */
async function untilDone(work: Work[], signal: AbortSignal): Promise<void> {
  await Promise.race([Promise.all(work.map((w) => w.settled)), whenAborted(signal)]);
}

/** The end of a grace period kept for Events and the Lease: a tenth, at most 3 s. */
function closingTime(graceMs: number): number {
  return Math.min(3000, Math.floor(graceMs / 10));
}
