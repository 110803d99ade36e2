import {
  type ApplyResult,
  type Change,
  type ChangeCost,
  costOf,
  fits,
  type Provider,
  type Zone,
} from '@chousei/dns';
import { JointAbort } from '@chousei/runtime';

interface Pending {
  changes: Change[];
  cost: ChangeCost;
  signal: AbortSignal | undefined;
  resolve(result: ApplyResult): void;
  reject(err: unknown): void;
}

interface ZoneQueue {
  zone: Zone;
  pending: Pending[];
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Coalesces the changes of concurrent reconciles into few provider calls, one zone at a
 * time. While changes keep coming, only full calls go out (as full as the provider's
 * limits allow, counted the way the provider counts); what is left waits until the flow
 * pauses for `lingerMs`. So a burst costs close to the fewest calls possible, and a single
 * change waits only `lingerMs`. A submitter that gives up (its signal aborts) leaves the
 * queue at once; a call goes on until every submitter in it gave up.
 */
export class ChangeBatcher {
  private readonly queues = new Map<string, ZoneQueue>();

  constructor(
    private readonly provider: Provider,
    private readonly onApplied: (zone: Zone, result: ApplyResult) => void,
    private readonly lingerMs = 20,
  ) {}

  /** Resolves with the outcome of these changes once they were sent. */
  submit(zone: Zone, changes: Change[], signal?: AbortSignal): Promise<ApplyResult> {
    if (!changes.length) return Promise.resolve({ applied: [], failed: [] });
    let queue = this.queues.get(zone.id);
    if (!queue) {
      queue = { zone, pending: [], busy: false, timer: undefined };
      this.queues.set(zone.id, queue);
    }
    const q = queue;
    const caps = this.provider.capabilities;
    const cost = changes.reduce<ChangeCost>(
      (sum, c) => {
        const one = costOf(c, caps);
        return { changes: sum.changes + one.changes, chars: sum.chars + one.chars };
      },
      { changes: 0, chars: 0 },
    );
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const entry: Pending = { changes, cost, signal, resolve, reject };
      const giveUp = () => {
        const i = q.pending.indexOf(entry);
        // Still waiting: never sent. Already sent: the outcome is no longer awaited.
        if (i >= 0) q.pending.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      entry.resolve = (result) => {
        signal?.removeEventListener('abort', giveUp);
        resolve(result);
      };
      entry.reject = (err) => {
        signal?.removeEventListener('abort', giveUp);
        reject(err);
      };
      q.pending.push(entry);
      this.schedule(q);
    });
  }

  /** Sends now if a full call is waiting, else once the flow pauses. */
  private schedule(q: ZoneQueue): void {
    if (q.busy || !q.pending.length) return;
    clearTimeout(q.timer);
    if (this.full(q)) {
      q.timer = undefined;
      void this.flush(q);
    } else {
      q.timer = setTimeout(() => {
        q.timer = undefined;
        void this.flush(q);
      }, this.lingerMs);
    }
  }

  /** Whether the pending changes fill at least one call. */
  private full(q: ZoneQueue): boolean {
    const caps = this.provider.capabilities;
    let used: ChangeCost = { changes: 0, chars: 0 };
    for (const p of q.pending) {
      if (!fits(used, p.cost, caps)) return true;
      used = { changes: used.changes + p.cost.changes, chars: used.chars + p.cost.chars };
    }
    return false;
  }

  private async flush(q: ZoneQueue): Promise<void> {
    if (q.busy || !q.pending.length) return;
    q.busy = true;
    // Take what fits one call (at least one submission; the provider splits oversize ones).
    const caps = this.provider.capabilities;
    let used: ChangeCost = { changes: 0, chars: 0 };
    let take = 0;
    while (take < q.pending.length && (take === 0 || fits(used, q.pending[take]!.cost, caps))) {
      const cost = q.pending[take]!.cost;
      used = { changes: used.changes + cost.changes, chars: used.chars + cost.chars };
      take++;
    }
    const batch = q.pending.splice(0, take);
    const joint = new JointAbort();
    for (const p of batch) joint.join(p.signal);
    try {
      const result = await this.provider.apply(
        q.zone,
        batch.flatMap((p) => p.changes),
        joint.signal,
      );
      this.onApplied(q.zone, result);
      // Hand each submitter the outcome of its own changes.
      const failedOf = new Map(result.failed.map((f) => [f.change, f]));
      for (const p of batch) {
        const failed = p.changes.flatMap((c) => failedOf.get(c) ?? []);
        p.resolve({ applied: p.changes.filter((c) => !failedOf.has(c)), failed });
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      joint.close();
      q.busy = false;
      this.schedule(q);
    }
  }
}
