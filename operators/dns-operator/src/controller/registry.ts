// The registry stage: the provider wrapped by the TXT ownership registry, as in external-dns.
import type {
  ApplyResult,
  OwnedRecord,
  PlannedChange,
  Provider,
  TxtRegistry,
  Zone,
  ZoneView,
} from '@chousei/dns';
import { ChangeBatcher } from './batcher.js';
import type { ZoneCache } from './zone-cache.js';

/**
 * The provider behind the ownership registry, as external-dns's registry wraps its
 * provider: the name reconciler hands it the record changes it planned, and the registry
 * adds the ownership TXT changes each needs, batches them into provider calls and folds
 * what was applied into the zone cache's one view per zone, which answers who owns what.
 */
export class Registry {
  readonly txt: TxtRegistry;
  private readonly batcher: ChangeBatcher;

  constructor(
    provider: Provider,
    readonly zones: ZoneCache,
  ) {
    this.txt = zones.registry;
    this.batcher = new ChangeBatcher(provider, (zone, result) => zones.record(zone, result));
  }

  /** Whether a record is ours: its ownership TXT names our owner id. */
  owns(owned: OwnedRecord | undefined): boolean {
    return this.txt.owns(owned);
  }

  /**
   * Applies record changes planned against `view`, each with its ownership TXT change in
   * one group; undefined when they need no write. A call that fails as a whole leaves the
   * zone to be read again.
   */
  async apply(
    zone: Zone,
    view: ZoneView,
    planned: PlannedChange[],
    signal: AbortSignal,
  ): Promise<ApplyResult | undefined> {
    const changes = this.txt.withOwnership(zone.name, planned, view);
    if (!changes.length) return undefined;
    try {
      return await this.batcher.submit(zone, changes, signal);
    } catch (err) {
      this.zones.invalidate(zone);
      throw err;
    }
  }

  /** Whether a managed zone still holds a record we own that was published for `resource`. */
  async holdsRecordsOf(resource: string, signal: AbortSignal): Promise<boolean> {
    for (const zone of this.zones.managed()) {
      if (this.txt.holdsRecordsOf(await this.zones.view(zone, signal), resource)) return true;
    }
    return false;
  }
}
