import type { ApplyResult, Change, Provider, Zone } from '@chousei/dns';

interface Pending {
  changes: Change[];
  resolve(result: ApplyResult): void;
  reject(err: unknown): void;
}

/**
 * Coalesces the changes of concurrent reconciles into few provider calls, one zone at a
 * time: while a call is in flight, new changes gather for the next one. Under load the
 * calls fill up to the provider's limits; when quiet, a change waits at most `lingerMs`.
 */
export class ChangeBatcher {
  private readonly queues = new Map<
    string,
    { zone: Zone; pending: Pending[]; busy: boolean; timer?: NodeJS.Timeout }
  >();

  constructor(
    private readonly provider: Provider,
    private readonly onApplied: (zone: Zone, result: ApplyResult) => void,
    private readonly lingerMs = 20,
  ) {}

  /** Resolves with the outcome of these changes once they were sent. */
  submit(zone: Zone, changes: Change[]): Promise<ApplyResult> {
    if (!changes.length) return Promise.resolve({ applied: [], failed: [] });
    let q = this.queues.get(zone.id);
    if (!q) {
      q = { zone, pending: [], busy: false };
      this.queues.set(zone.id, q);
    }
    const queue = q;
    return new Promise((resolve, reject) => {
      queue.pending.push({ changes, resolve, reject });
      if (!queue.busy && !queue.timer) {
        queue.timer = setTimeout(() => void this.flush(zone.id), this.lingerMs);
      }
    });
  }

  private async flush(zoneId: string): Promise<void> {
    const q = this.queues.get(zoneId);
    if (!q) return;
    q.timer = undefined;
    if (q.busy || !q.pending.length) return;
    q.busy = true;
    const batch = q.pending.splice(0);
    const all = batch.flatMap((p) => p.changes);
    try {
      const result = await this.provider.apply(q.zone, all);
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
      q.busy = false;
      if (q.pending.length) void this.flush(zoneId);
    }
  }
}
