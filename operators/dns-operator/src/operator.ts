import { DomainPolicyCache } from '@chousei/dns';
import type { Controller, Manager } from '@chousei/runtime';
import type { Claimant } from './controller/claims.js';
import type { EventSink } from './controller/events.js';
import { FirstSyncGuard } from './controller/first-sync-guard.js';
import {
  ConfigMapFirstSyncState,
  type FirstSyncState,
  MemoryFirstSyncState,
} from './controller/first-sync-state.js';
import type { NameReconciler } from './controller/name-reconciler.js';
import { Registry } from './controller/registry.js';
import { ZoneCache } from './controller/zone-cache.js';
import { type SourceKind, txtRegistryFor, zoneFilterFor } from './definitions.js';
import { addNamesController, addResync, nameReconcilerFor } from './names.js';
import type { DnsOperatorOptions } from './options.js';
import { addSourceControllers } from './source-controllers.js';
import { SourceWatch } from './watch.js';

export type { DnsOperatorOptions } from './options.js';
export { FINALIZER } from './source-controllers.js';
export type { SourceKind };

/** The running parts of a dns-operator, for tests and the CLI. */
export interface DnsOperator {
  zones: ZoneCache;
  names: NameReconciler;
  namesController: Controller<string>;
  /** Re-reads every zone and queues the names that may need repair; `signal` gives up. */
  resync(signal?: AbortSignal): Promise<void>;
  /** Names currently claimed by the watched objects. */
  claimedNames(): Set<string>;
  /**
   * Resolves once the first full resync ran and no name waits or is in progress; rejects
   * when that resync failed (the zones could not be read).
   */
  untilIdle(signal: AbortSignal): Promise<void>;
  /** Names whose last reconcile failed. */
  failures(): number;
}

/**
 * Wires the dns-operator into a manager, in external-dns's order: the sources and the index
 * of the names they claim; the provider behind the ownership registry, over the zone cache;
 * the first-sync guard; the name reconciler and the controller of DNS names; one controller
 * per source kind for finalizers, validation Events and DNSEndpoint status; the periodic
 * full resync. (Metrics are declared by the module that counts them.)
 */
export function setupDnsOperator(manager: Manager, opts: DnsOperatorOptions): DnsOperator {
  const events = eventSinkFor(manager, opts);
  const watch = new SourceWatch(manager.cache, opts);
  const registry = registryFor(manager, opts);
  const { zones } = registry;
  // Names the guard releases, and DNSEndpoints whose names' outcomes changed, are queued
  // on controllers made below (called only once those run).
  const guard = firstSyncGuardFor(manager, opts, events, (held) => {
    for (const name of held) namesController.enqueue(name);
  });
  // Who may claim which names: read only when serving every namespace.
  const policies = opts.namespace ? undefined : new DomainPolicyCache(manager.cache);
  const names = nameReconcilerFor(opts, {
    watch,
    registry,
    events,
    guard,
    policies,
    onOutcome: (_name, _outcome, claimants) => refreshStatus(sources.get('dnsendpoint'), claimants),
  });
  const namesController = addNamesController(manager, opts, {
    watch,
    names,
    guard,
    zones,
    policies,
  });
  const sources = addSourceControllers(manager, opts, {
    watch,
    names,
    zones,
    registry,
    events,
  });
  const { resync, untilIdle } = addResync(manager, opts, {
    watch,
    guard,
    zones,
    names,
    controller: namesController,
  });
  return {
    zones,
    names,
    namesController,
    resync,
    claimedNames: () => watch.claimedNames(),
    untilIdle,
    failures: () => [...names.outcomes.values()].filter((o) => o.reason === 'Failed').length,
  };
}

/** Where Events go: given, the manager's recorder, or nowhere when nothing may be written. */
function eventSinkFor(manager: Manager, opts: DnsOperatorOptions): EventSink {
  if (opts.events) return opts.events;
  return opts.readOnly ? { event: () => {} } : manager.eventRecorder('chousei-dns-operator');
}

/**
 * The provider behind the TXT ownership registry, and the zone cache of the registry's
 * views (whose readiness /readyz tells).
 */
function registryFor(manager: Manager, opts: DnsOperatorOptions): Registry {
  const zones = new ZoneCache(
    opts.provider,
    txtRegistryFor(opts),
    zoneFilterFor(opts.domainFilter),
    opts.logger,
  );
  manager.addReadyCheck('dns-zones', () => zones.readiness());
  return new Registry(opts.provider, zones);
}

/** The first-sync guard, its state kept in a ConfigMap when one is named. */
function firstSyncGuardFor(
  manager: Manager,
  opts: DnsOperatorOptions,
  events: EventSink,
  requeue: (held: string[]) => void,
): FirstSyncGuard {
  const stateMap = opts.firstSync?.configMap;
  const state: FirstSyncState = stateMap
    ? new ConfigMapFirstSyncState(
        manager.client,
        stateMap.namespace,
        stateMap.name,
        opts.logger,
        opts.readOnly,
      )
    : new MemoryFirstSyncState();
  return new FirstSyncGuard({
    deleteLimit: opts.firstSync?.deleteLimit ?? 0.1,
    settings: opts,
    state,
    mode: opts.readOnly ? 'report' : 'hold',
    events,
    log: opts.logger,
    requeue,
    ...(opts.firstSync?.confirmPollMs ? { confirmPollMs: opts.firstSync.confirmPollMs } : {}),
  });
}

/** A name's outcome changed: its DNSEndpoints' status says so. */
function refreshStatus(dnsEndpoints: Controller | undefined, claimants: Claimant[]): void {
  for (const c of claimants) {
    if (c.resource.startsWith('dnsendpoint/'))
      dnsEndpoints?.enqueue({
        namespace: c.obj.metadata?.namespace ?? '',
        name: c.obj.metadata?.name ?? '',
      });
  }
}
