import {
  type ApplyResult,
  inZone,
  namesChanged,
  type Provider,
  type TxtRegistry,
  type Zone,
  type ZoneView,
} from '@chousei/dns';
import { abortable, type CheckResult, gauge, JointAbort, type Logger } from '@chousei/runtime';

const managedRecords = gauge('chousei_dns_records_managed', 'Records this operator owns, by zone', [
  'zone',
]);
const managedZones = gauge(
  'chousei_dns_zones',
  'Zones managed: those the provider lists that the filters let through (0: nothing is published)',
  [],
);

interface ZoneState {
  zone: Zone;
  /** Every record of the zone, split by the registry, kept up to date by applied changes. */
  view: ZoneView;
  /** A failed apply left the cache unsure: read the zone again before trusting it. */
  stale: boolean;
}

/**
 * What the provider holds, read once and kept: zones, their records, and the registry's
 * view of who owns what. Applied changes update it in place, so steady state costs no
 * reads; a zone is read again only on a full resync or after a failed apply.
 */
export class ZoneCache {
  private zones: ZoneState[] = [];
  private everRead = false;
  /** What the last full read found changed from the cache: names, or everything (undefined). */
  private changed: Set<string> | undefined;
  private loading: { done: Promise<void>; joint: JointAbort } | undefined;

  constructor(
    private readonly provider: Provider,
    readonly registry: TxtRegistry,
    private readonly zoneFilter: (zone: Zone) => boolean,
    private readonly log: Logger,
  ) {}

  /**
   * Reads every zone and its records (a full resync); callers at the same time share one
   * read, which stops once all of them gave up (`signal`).
   */
  load(signal?: AbortSignal): Promise<void> {
    if (!this.loading) {
      const joint = new JointAbort();
      const done = this.readAll(joint.signal).finally(() => {
        joint.close();
        this.loading = undefined;
      });
      this.loading = { done, joint };
    }
    this.loading.joint.join(signal);
    return abortable(this.loading.done, signal);
  }

  private async readAll(signal: AbortSignal): Promise<void> {
    const listed = await this.provider.zones(signal);
    const zones = mostSpecificFirst(listed.filter(this.zoneFilter));
    const states: ZoneState[] = [];
    for (const zone of zones) states.push(await this.read(zone, signal));
    this.changed = changedBetween(this.zones, states);
    this.zones = states;
    this.everRead = true;
    managedZones.set(states.length);
    if (!states.length) {
      // Said at every read, not once: an operator writing nothing must not look healthy
      // in its log. The zones the provider listed tell a filter typo from missing access.
      this.log.warn(
        {
          provider: this.provider.name,
          listed: listed.map((z) => z.name),
          hint: 'check --domain-filter, --exclude-domains, the provider flags (--zone-id-filter, --aws-zone-type, --aws-zone-tags, --rfc2136-zone) and what the credentials may list',
        },
        'no zone to manage: nothing will be published',
      );
      return;
    }
    this.log.info(
      {
        zones: zones.map((z) => z.name),
        records: states.reduce((n, s) => n + s.view.records.size + s.view.registry.size, 0),
      },
      'read zones',
    );
  }

  private async read(zone: Zone, signal?: AbortSignal): Promise<ZoneState> {
    const view = this.registry.read(zone.name, await this.provider.records(zone, signal));
    countOwned(view, this.registry);
    return { zone, view, stale: false };
  }

  /**
   * The names whose records the last full read found different from the cache held (drift,
   * or a write the cache missed); undefined when every name may have changed: the first
   * read, a zone new or marked stale, an ownership record changed.
   */
  changedByLastRead(): Set<string> | undefined {
    return this.changed;
  }

  /** Whether the zones were read at least once (finding none counts). */
  get loaded(): boolean {
    return this.everRead;
  }

  /** For /readyz: ready either way, but an operator managing no zone says so. */
  readiness(): CheckResult {
    if (!this.everRead) return { ok: true };
    const n = this.zones.length;
    return n
      ? { ok: true, detail: `${n} zone${n === 1 ? '' : 's'} managed` }
      : { ok: true, detail: 'no zone managed: nothing will be published (see the log)' };
  }

  /** Managed zones, most specific first. */
  managed(): Zone[] {
    return this.zones.map((z) => z.zone);
  }

  /** Managed zone names. */
  zoneNames(): string[] {
    return this.managed().map((z) => z.name);
  }

  /** The most specific managed zone holding `name`. */
  zoneFor(name: string): Zone | undefined {
    // Sorted most specific first at load.
    return this.zones.find((z) => inZone(name, z.zone.name))?.zone;
  }

  /** The registry's view of a zone, re-read first if a failed apply made it stale. */
  async view(zone: Zone, signal?: AbortSignal): Promise<ZoneView> {
    let state = this.state(zone);
    if (state.stale) {
      this.log.info({ zone: zone.name }, 'reading zone again after a failed change');
      const fresh = await this.read(zone, signal);
      this.zones = this.zones.map((z) => (z === state ? fresh : z));
      state = fresh;
    }
    return state.view;
  }

  /** Every name holding a record we own (for resync: owned names nobody claims go). */
  ownedNames(): Set<string> {
    const names = new Set<string>();
    for (const z of this.zones) {
      for (const owned of z.view.records.values()) {
        if (this.registry.owns(owned)) names.add(owned.record.name);
      }
    }
    return names;
  }

  /** Per managed zone, how many records this owner id owns there. */
  ownedCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const z of this.zones) counts.set(z.zone.name, ownedIn(z.view, this.registry));
    return counts;
  }

  /** Folds an apply's outcome into the cache; failures mark the zone for a re-read. */
  record(zone: Zone, result: ApplyResult): void {
    const state = this.state(zone);
    if (result.applied.length) {
      this.registry.update(state.view, result.applied);
      countOwned(state.view, this.registry);
    }
    if (result.failed.length) state.stale = true;
  }

  /** Marks a zone for a re-read (e.g. the provider could not be reached mid-apply). */
  invalidate(zone: Zone): void {
    this.state(zone).stale = true;
  }

  private state(zone: Zone): ZoneState {
    const state = this.zones.find((z) => z.zone.id === zone.id);
    if (!state) throw new Error(`zone ${zone.name} is not managed`);
    return state;
  }
}

/** The names whose records differ between two reads of the managed zones (see namesChanged). */
function changedBetween(before: ZoneState[], after: ZoneState[]): Set<string> | undefined {
  const changed = new Set<string>();
  for (const state of after) {
    const old = before.find((z) => z.zone.id === state.zone.id);
    if (!old || old.stale) return undefined;
    const names = namesChanged(old.view, state.view);
    if (!names) return undefined;
    for (const name of names) changed.add(name);
  }
  return changed;
}

/** Longest name first: a name belongs to its most specific zone. */
function mostSpecificFirst(zones: Zone[]): Zone[] {
  return [...zones].sort((a, b) => b.name.length - a.name.length);
}

/** The most specific of `zones` holding `name` (as `zoneFor` picks among the managed ones). */
export function zoneOf(name: string, zones: Zone[]): Zone | undefined {
  return mostSpecificFirst(zones).find((z) => inZone(name, z.name));
}

function ownedIn(view: ZoneView, registry: TxtRegistry): number {
  let owned = 0;
  for (const r of view.records.values()) if (registry.owns(r)) owned++;
  return owned;
}

function countOwned(view: ZoneView, registry: TxtRegistry): void {
  managedRecords.set({ zone: view.zone }, ownedIn(view, registry));
}
