import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Client } from '../client/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js';
import { Leases } from '../client/resource.js';
import type { Lease, OwnerReference } from '../client/types.js';
import type { ClusterAccess } from '../kubeconfig/access.js';
import { silentLogger } from '../log/logger.js';
import { gauge } from '../metrics/registry.js';
import { sleep } from '../util/async.js';

export interface LeaderElectionOptions {
  /** Name of the Lease. */
  name: string;
  namespace: string;
  /** This replica's name in the Lease; default hostname + random suffix. */
  identity?: string;
  /** How long a Lease is valid without renewal. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before giving up. Default 10 s. */
  renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /**
   * This replica's Pod, in the Lease's namespace: the holder makes it the Lease's owner, so
   * the garbage collector removes the Lease once no Pod that held it is left (after `helm
   * uninstall`, as it removes everything else of the release).
   */
  owner?: OwnerReference;
}

const leaderGauge = gauge(
  'leader_election_master_status',
  '1 while this replica is the leader of the named lease, 0 otherwise',
  ['name'],
);

/** RFC 3339 with microseconds, the MicroTime format Lease timestamps use. */
function microTime(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election on a coordination.k8s.io Lease. Only the holder runs controllers; the
 * others retry until the Lease expires. Expiry is judged by the local clock from when the
 * holder's record last changed, never by the timestamps in it, so clock skew between
 * replicas cannot elect two leaders.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly log: Logger;
  private observed: { holder: string; renewTime: string; at: number } | undefined;
  private leading = false;
  private readonly client: Client;

  constructor(
    kubeConfig: ClusterAccess,
    private readonly opts: LeaderElectionOptions,
    logger: Logger = silentLogger,
  ) {
    this.identity = opts.identity ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    // A client of its own: never throttled behind controller traffic, and a hung request
    // gives up well within the renew deadline, so a lost lease is noticed in time.
    this.client = new Client(kubeConfig, {
      requestTimeoutMs: Math.max(1000, Math.floor(this.renewDeadlineMs / 2)),
      userAgent: 'chousei-leader-election',
    });
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new Error('leader election: renewDeadline must be shorter than leaseDuration');
    }
    this.log = logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: this.identity });
    leaderGauge.set({ name: opts.name }, 0);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Retries until this replica holds the Lease (true) or `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.log.info('waiting to acquire the leader lease');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        this.setLeading(true);
        this.log.info('became leader');
        return true;
      }
      await sleep(this.retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    return false;
  }

  /**
   * Renews every retry period while leading. Resolves 'released' after `signal` aborts (the
   * Lease is handed back at once so a standby takes over without waiting for expiry), or
   * 'lost' when renewal failed for longer than the renew deadline.
   */
  async hold(signal: AbortSignal): Promise<'released' | 'lost'> {
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = Date.now();
      } else if (Date.now() - lastRenew > this.renewDeadlineMs) {
        this.setLeading(false);
        this.log.error(
          { renewDeadlineMs: this.renewDeadlineMs },
          'leader lease lost: could not renew in time',
        );
        return 'lost';
      }
    }
    await this.release();
    return 'released';
  }

  /** Empties the holder so another replica can acquire at once. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.client.get(Leases, this.key());
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = microTime();
      await this.client.update(Leases, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: now,
          acquireTime: now,
        },
      });
      this.log.info('released the leader lease');
    } catch (err) {
      this.log.warn({ err }, 'could not release the leader lease; it will expire');
    }
  }

  private key() {
    return { namespace: this.opts.namespace, name: this.opts.name };
  }

  /** The Lease's owner while this replica holds it: its Pod, when given. */
  private owned(): { ownerReferences?: OwnerReference[] } {
    return this.opts.owner ? { ownerReferences: [this.opts.owner] } : {};
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    leaderGauge.set({ name: this.opts.name }, leading ? 1 : 0);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const durationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await this.client.get(Leases, this.key());
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn({ err: (err as Error).message }, 'could not read the leader lease');
        return false;
      }
      try {
        await this.client.create(Leases, {
          metadata: { ...this.key(), ...this.owned() },
          spec: {
            holderIdentity: this.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(),
            renewTime: microTime(),
            leaseTransitions: 0,
          },
        });
        this.observed = { holder: this.identity, renewTime: '', at: now };
        return true;
      } catch (createErr) {
        if (!isAlreadyExists(createErr))
          this.log.warn({ err: (createErr as Error).message }, 'could not create the leader lease');
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewTime = spec.renewTime ?? '';
    if (
      !this.observed ||
      this.observed.holder !== holder ||
      this.observed.renewTime !== renewTime
    ) {
      this.observed = { holder, renewTime, at: now };
    }
    const heldByOther = holder !== '' && holder !== this.identity;
    const validForMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.observed.at + validForMs > now) return false;

    const ours = holder === this.identity;
    const stamp = microTime();
    try {
      await this.client.update(Leases, {
        ...lease,
        metadata: { ...lease.metadata, ...this.owned() },
        spec: {
          holderIdentity: this.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: ours ? spec.acquireTime : stamp,
          renewTime: stamp,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
        },
      });
      this.observed = { holder: this.identity, renewTime: stamp, at: now };
      return true;
    } catch (err) {
      // A conflict means another replica wrote first: it is the leader for this round.
      if (!isConflict(err))
        this.log.warn({ err: (err as Error).message }, 'could not update the leader lease');
      return false;
    }
  }
}
