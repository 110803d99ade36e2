// The names stage of setupDnsOperator: the name reconciler, the dns-names controller (its
// requests are DNS names) and the periodic full resync that queues every claimed or owned name.
import { DEFAULT_MANAGED_TYPES, type DomainPolicyCache, touchedBy } from '@chousei/dns';
import {
  type Controller,
  exponentialBuckets,
  gauge,
  histogram,
  type Manager,
  namedRequests,
  sleep,
} from '@chousei/runtime';
import type { EventSink } from './controller/events.js';
import type { FirstSyncGuard } from './controller/first-sync-guard.js';
import { NameReconciler, type NameReconcilerOptions } from './controller/name-reconciler.js';
import type { Registry } from './controller/registry.js';
import type { ZoneCache } from './controller/zone-cache.js';
import type { DnsOperatorOptions } from './options.js';
import type { SourceWatch } from './watch.js';

const resyncDuration = histogram(
  'chousei_dns_resync_duration_seconds',
  'Time to re-read every zone in a full resync',
  [],
  exponentialBuckets(0.05, 2, 12),
);
const lastResync = gauge(
  'chousei_dns_last_resync_timestamp_seconds',
  'When the last full resync finished',
  [],
);

/** What the name reconciler is wired to. */
export interface NameReconcilerParts {
  watch: SourceWatch;
  registry: Registry;
  events: EventSink;
  guard: FirstSyncGuard;
  /** Who may claim which names: read only when serving every namespace. */
  policies: DomainPolicyCache | undefined;
  onOutcome: NameReconcilerOptions['onOutcome'];
}

/** The reconciler of one DNS name, with the options' policies and defaults. */
export function nameReconcilerFor(
  opts: DnsOperatorOptions,
  { watch, registry, policies, onOutcome, ...parts }: NameReconcilerParts,
): NameReconciler {
  return new NameReconciler({
    ...parts,
    claimants: (name) => watch.claimants(name),
    zones: registry.zones,
    registry,
    policy: opts.policy ?? 'sync',
    tenancy: {
      ...(policies ? { judge: (ns: string, name: string) => policies.judge(ns, name) } : {}),
      crossNamespaceClaims: opts.crossNamespaceClaims ?? 'refuse',
    },
    managedTypes: new Set(opts.managedTypes ?? DEFAULT_MANAGED_TYPES),
    defaultTTL: opts.defaultTTL ?? 300,
    ...(opts.aliases ? { aliases: opts.aliases } : {}),
    ...(onOutcome ? { onOutcome } : {}),
  });
}

/** What the names controller is wired to. */
export interface NamesParts {
  watch: SourceWatch;
  names: NameReconciler;
  guard: FirstSyncGuard;
  zones: ZoneCache;
  /** Who may claim which names: read only when serving every namespace. */
  policies: DomainPolicyCache | undefined;
}

/**
 * The controller of DNS names: its requests are names, fed by every source kind through the
 * claim index (a changed object requeues the names it claimed and claims, so a record it
 * left goes), by Gateways (their routes' names) and by DomainPolicies and namespace labels.
 */
export function addNamesController(
  manager: Manager,
  opts: Pick<DnsOperatorOptions, 'concurrency'>,
  { watch, names, guard, zones, policies }: NamesParts,
): Controller<string> {
  const builder = manager
    .controller('dns-names', namedRequests('dnsName'))
    .withOptions({ maxConcurrentReconciles: opts.concurrency ?? 1000 });
  for (const def of watch.defs)
    builder.watches(def.resource, (obj) => watch.reindex(def, obj), watch.scope);
  watch.gateways?.watchedBy(builder, (change) => watch.reindexRoutes(change));
  // A policy change looks again at the claimed names under the suffixes it had and has; a
  // namespace's new labels at the names claimed from it.
  policies?.watchedBy(builder, {
    byPolicy: (change) => [...watch.claimedNames()].filter((n) => touchedBy(change, n)),
    byNamespace: (namespace) => watch.claimedIn(namespace),
  });
  // Each name looked at moves the guard's pass on; one failing leaves its zone unjudged.
  return builder.complete(async (name, ctx) => {
    const zone = () => zones.zoneFor(name)?.name;
    try {
      const result = await names.reconcile(name, ctx);
      guard.reconciled(name, zone(), names.outcomes.get(name)?.reason === 'Failed');
      return result;
    } catch (err) {
      guard.reconciled(name, zone(), true);
      throw err;
    }
  });
}

/**
 * The names a resync reconciles: those whose records the zone read found changed (drift),
 * and those not known to be published as claimed (failed, pending, in conflict, owned by
 * nobody's claim). A published name whose records are as the cache holds them has nothing
 * to change: its claims were reconciled when they last changed. Every name when the read
 * cannot tell (the first read, a zone read anew).
 */
function worthALook(
  all: Set<string>,
  claimed: Set<string>,
  changed: Set<string> | undefined,
  names: NameReconciler,
): Set<string> {
  if (!changed) return all;
  const queued = new Set<string>();
  for (const name of all)
    if (changed.has(name) || !claimed.has(name) || names.outcomes.get(name)?.reason !== 'Published')
      queued.add(name);
  return queued;
}

/** The periodic full resync, and what one-shot runs wait on. */
export interface Resync {
  /** Re-reads every zone and queues the names that may need repair; `signal` gives up. */
  resync(signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once the first full resync ran and no name waits or is in progress; rejects
   * when that resync failed (the zones could not be read).
   */
  untilIdle(signal: AbortSignal): Promise<void>;
}

/**
 * Adds the full resync (on the Lease holder): every `resyncIntervalMs` each zone is read
 * again and the names it may repair queued (see worthALook).
 */
export function addResync(
  manager: Manager,
  opts: Pick<DnsOperatorOptions, 'resyncIntervalMs' | 'logger'>,
  parts: Pick<NamesParts, 'watch' | 'guard' | 'zones' | 'names'> & {
    controller: Controller<string>;
  },
): Resync {
  const { watch, guard, zones, names, controller } = parts;
  const log = opts.logger;
  let firstResync: () => void = () => {};
  let firstResyncFailed: (err: unknown) => void = () => {};
  const resynced = new Promise<void>((resolve, reject) => {
    firstResync = resolve;
    firstResyncFailed = reject;
  });
  // Only untilIdle (one-shot runs) waits on it; a long-running operator retries instead.
  resynced.catch(() => {});
  const resync = async (signal?: AbortSignal) => {
    const started = performance.now();
    await zones.load(signal);
    const claimed = watch.claimedNames();
    const all = new Set(claimed);
    for (const name of zones.ownedNames()) all.add(name);
    const judging = await guard.startPass(zones.ownedCounts(), all);
    const queued = judging ? all : worthALook(all, claimed, zones.changedByLastRead(), names);
    for (const name of queued) controller.enqueue(name);
    resyncDuration.observe((performance.now() - started) / 1000);
    lastResync.set(Date.now() / 1000);
    log.info(
      { names: all.size, queued: queued.size, ms: Math.round(performance.now() - started) },
      'full resync queued',
    );
    firstResync();
  };

  manager.add({
    name: 'dns-resync',
    needsLeaderElection: true,
    start: async (signal) => {
      signal.addEventListener('abort', () => guard.stop(), { once: true });
      await manager.cache.waitForSync(signal);
      while (!signal.aborted) {
        try {
          await resync(signal);
        } catch (err) {
          // Stopping: the read was given up, not failed.
          if (signal.aborted) return;
          log.error({ err }, 'full resync failed; retrying at the next interval');
          firstResyncFailed(err);
        }
        await sleep(opts.resyncIntervalMs ?? 600_000, signal);
      }
    },
  });

  const untilIdle = async (signal: AbortSignal) => {
    await Promise.race([
      resynced,
      new Promise((r) => signal.addEventListener('abort', r, { once: true })),
    ]);
    const queue = controller.queue;
    while (!signal.aborted && (queue.len() > 0 || queue.processing > 0)) await sleep(50, signal);
  };
  return { resync, untilIdle };
}
