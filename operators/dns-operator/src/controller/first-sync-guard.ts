// The first-sync guard, which neither external-dns nor any other peer has: the first time
// the operator syncs a zone under its settings (owner id, TXT naming), a migration mistake
// (a source not watched, a DNSEndpoint not copied, a filter) shows as deletes of records it
// now owns. Over a share of them, those deletes wait for a person instead of happening.
import type { RecordSet } from '@chousei/dns';
import { gauge, type Logger } from '@chousei/runtime';
import type { EventSink } from './events.js';
import { CONFIRM_ANNOTATION, type FirstSyncState } from './first-sync-state.js';

const deletesHeld = gauge(
  'chousei_dns_deletes_held',
  'Record deletes the first-sync guard holds, by zone, until they are confirmed',
  ['zone'],
);

/** What a plan's DeletesHeld warning is about when no state is kept. */
const PLAN_SUBJECT = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'chousei-dns-operator-first-sync' },
};

/** The settings a zone's sync is remembered under: a change of any is a first sync again. */
export interface GuardSettings {
  ownerId: string;
  txtPrefix?: string;
  txtSuffix?: string;
  txtWildcardReplacement?: string;
}

export interface FirstSyncGuardOptions {
  /** Share (0..1) of a zone's owned records its first sync may delete; 1: never hold. */
  deleteLimit: number;
  settings: GuardSettings;
  state: FirstSyncState;
  /** `hold` deletes over the limit; `report` lets them go and warns (plans, dry runs). */
  mode: 'hold' | 'report';
  events: EventSink;
  log: Logger;
  /** Names to reconcile again once their zone's deletes are released. */
  requeue(names: string[]): void;
  /** How often a held zone looks for a confirmation. Default 30 s. */
  confirmPollMs?: number;
}

interface ZonePass {
  /** Owned records when the pass began. */
  owned: number;
  /** Per name, the deletes it waits with. */
  held: Map<string, RecordSet[]>;
  /** A name of the zone failed during the pass: its deletes are unknown. */
  failed: boolean;
  announced: string | undefined;
}

/** The state a zone's settings are written as. */
function fingerprint(s: GuardSettings): string {
  return JSON.stringify({
    ownerId: s.ownerId,
    txtPrefix: s.txtPrefix ?? '',
    txtSuffix: s.txtSuffix ?? '',
    txtWildcardReplacement: s.txtWildcardReplacement ?? '',
  });
}

/**
 * Decides, per zone, whether deletes may go. A zone synced before under the same settings
 * (the state says so) is settled: always. Otherwise its first full pass holds every delete
 * (name by name, incremental reconciles included) until each name of the pass was looked
 * at; then, when the deletes are at most `deleteLimit` of the records it owns, they go and
 * the zone is settled; else they wait, with a Warning Event and a log line naming them, until
 * the zone is listed in the state object's annotation (or fewer deletes remain).
 */
export class FirstSyncGuard {
  private readonly settings: string;
  private synced = new Map<string, string>();
  private loaded: Promise<void> | undefined;
  private readonly zones = new Map<string, ZonePass>();
  private pending: Set<string> | undefined;
  private poll: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: FirstSyncGuardOptions) {
    this.settings = fingerprint(opts.settings);
  }

  private settled(zone: string): boolean {
    return this.opts.deleteLimit >= 1 || this.synced.get(zone) === this.settings;
  }

  /**
   * Whether `name`'s deletes in `zone` may go now; when not, they are held (none: released).
   * In report mode they always may, and are counted.
   */
  admits(zone: string, name: string, deletes: RecordSet[]): boolean {
    if (this.settled(zone)) return true;
    const pass = this.pass(zone);
    const before = pass.held.size;
    if (deletes.length) pass.held.set(name, deletes);
    else pass.held.delete(name);
    deletesHeld.set({ zone }, this.count(pass));
    // Fixed meanwhile (a source added): a held zone may now be under the limit.
    if (!this.pending && pass.announced && pass.held.size < before) void this.evaluate();
    return this.opts.mode === 'report' || deletes.length === 0;
  }

  /**
   * A full pass begins: every zone not settled is judged once `names` were all looked at.
   * Whether one is open: then every one of `names` must be reconciled.
   */
  async startPass(owned: Map<string, number>, names: Iterable<string>): Promise<boolean> {
    this.loaded ??= this.opts.state.read().then((s) => {
      this.synced = s.synced;
      // Held before the state was known, in zones it says were synced: they go.
      for (const zone of [...this.zones.keys()]) if (this.settled(zone)) this.release(zone, false);
    });
    await this.loaded;
    let open = false;
    for (const [zone, count] of owned) {
      if (this.settled(zone)) continue;
      const pass = this.pass(zone);
      pass.owned = count;
      pass.failed = false;
      open = true;
    }
    if (!open || this.pending) return open;
    this.pending = new Set(names);
    if (this.pending.size) return true;
    this.pending = undefined;
    await this.evaluate();
    return true;
  }

  /** A name was looked at (`zone` undefined: in none); `failed`: its deletes are unknown. */
  reconciled(name: string, zone: string | undefined, failed: boolean): void {
    if (failed && zone && !this.settled(zone)) this.pass(zone).failed = true;
    if (!this.pending?.delete(name) || this.pending.size) return;
    this.pending = undefined;
    void this.evaluate();
  }

  private pass(zone: string): ZonePass {
    let pass = this.zones.get(zone);
    if (!pass) {
      pass = { owned: 0, held: new Map(), failed: false, announced: undefined };
      this.zones.set(zone, pass);
    }
    return pass;
  }

  private count(pass: ZonePass): number {
    let n = 0;
    for (const deletes of pass.held.values()) n += deletes.length;
    return n;
  }

  /**
   * Judges the zones not settled: those under the limit or confirmed are settled, the others
   * announced. During a pass (a confirmation found meanwhile) only the confirmed ones.
   */
  private async evaluate(confirmed: Set<string> | '*' = new Set()): Promise<void> {
    const judgeAll = !this.pending;
    const settle: string[] = [];
    const byConfirmation: string[] = [];
    for (const [zone, pass] of this.zones) {
      if (this.settled(zone)) continue;
      const held = this.count(pass);
      const isConfirmed =
        pass.announced !== undefined && (confirmed === '*' || confirmed.has(zone));
      if (isConfirmed || (judgeAll && !pass.failed && held <= this.opts.deleteLimit * pass.owned)) {
        settle.push(zone);
        if (isConfirmed) byConfirmation.push(zone);
      } else if (judgeAll && !pass.failed) this.announce(zone, pass, held);
    }
    if (this.opts.mode === 'report') return;
    try {
      await this.opts.state.write(settle, this.settings, byConfirmation.length > 0);
    } catch (err) {
      // Settled for this process all the same; the next start judges these zones again.
      this.opts.log.warn({ err: (err as Error).message }, 'first-sync state not written');
    }
    for (const zone of settle) this.release(zone, byConfirmation.includes(zone));
    this.schedulePoll();
  }

  private announce(zone: string, pass: ZonePass, held: number): void {
    const records = [...pass.held.values()].flat().map((r) => `${r.name} ${r.type}`);
    const limit = `${Math.round(this.opts.deleteLimit * 100)}%`;
    const state = this.opts.state.object?.metadata;
    const confirm = state
      ? `kubectl -n ${state.namespace} annotate configmap ${state.name} ${CONFIRM_ANNOTATION}=${zone}`
      : 'restart with --first-sync-delete-limit=100%';
    const share = `${held} of the ${pass.owned} records owned there (over --first-sync-delete-limit ${limit})`;
    const verb = this.opts.mode === 'hold' ? 'held' : 'would be held by the operator';
    const message = `first sync of zone ${zone} under these settings: deletes of ${share} ${verb}: no watched object asks for them (a source, namespace or filter left out, a DNSEndpoint not copied, records published differently?). To let them go: ${confirm}. Records: ${records.slice(0, 10).join(', ')}${records.length > 10 ? `, and ${records.length - 10} more (see the log)` : ''}`;
    const key = `${held}/${pass.owned}`;
    if (pass.announced === key) return;
    pass.announced = key;
    this.opts.log.warn({ zone, held, owned: pass.owned, records }, message);
    // A plan reports it whether or not a state is kept; a running operator about its state.
    const about =
      this.opts.state.object ?? (this.opts.mode === 'report' ? PLAN_SUBJECT : undefined);
    if (about) this.opts.events.event(about, 'Warning', 'DeletesHeld', 'Sync', message);
  }

  private release(zone: string, confirmed: boolean): void {
    this.synced.set(zone, this.settings);
    const pass = this.zones.get(zone);
    this.zones.delete(zone);
    deletesHeld.set({ zone }, 0);
    const names = [...(pass?.held.keys() ?? [])];
    if (!names.length) return;
    this.opts.log.info(
      { zone, names: names.length, confirmed },
      confirmed ? 'held deletes confirmed: releasing' : 'first sync under the limit: deletes go',
    );
    this.opts.requeue(names);
  }

  /** While deletes are held, looks for a confirmation in the state now and then. */
  private schedulePoll(): void {
    const holding = [...this.zones.values()].some((p) => p.announced);
    if (!holding || this.poll || this.stopped || this.opts.mode === 'report') return;
    this.poll = setTimeout(async () => {
      this.poll = undefined;
      const { confirmed } = await this.opts.state.read();
      await this.evaluate(confirmed);
    }, this.opts.confirmPollMs ?? 30_000);
    this.poll.unref();
  }

  /** Stops looking for confirmations. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.poll);
    this.poll = undefined;
  }
}
