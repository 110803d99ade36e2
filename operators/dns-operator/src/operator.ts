import {
  type AliasPolicy,
  DEFAULT_MANAGED_TYPES,
  DomainPolicyCache,
  normalizeName,
  type Policy,
  type Provider,
  type RecordType,
  sameResource,
  touchedBy,
} from '@chousei/dns';
import {
  addFinalizer,
  type Controller,
  exponentialBuckets,
  gauge,
  hasFinalizer,
  histogram,
  type Informer,
  isNotFound,
  type KubeObject,
  type Logger,
  type Manager,
  objectKey,
  removeFinalizer,
  sleep,
} from '@chousei/runtime';
import { type DNSEndpoint, type DNSEndpointStatus, DNSEndpoints } from './api/dnsendpoint.js';
import { ChangeBatcher } from './controller/batcher.js';
import { ClaimIndex } from './controller/claim-index.js';
import { type Claimant, resourceLabel } from './controller/claims.js';
import type { EventSink } from './controller/events.js';
import { FirstSyncGuard } from './controller/first-sync-guard.js';
import {
  ConfigMapFirstSyncState,
  type FirstSyncState,
  MemoryFirstSyncState,
} from './controller/first-sync-state.js';
import { GatewayCache, type GatewayChange } from './controller/gateways.js';
import { type NameOutcome, NameReconciler } from './controller/name-reconciler.js';
import type { CrossNamespaceClaims } from './controller/tenancy.js';
import { ZoneCache } from './controller/zone-cache.js';
import {
  isGatewayRouteSource,
  PARENTS_INDEX,
  type SourceDef,
  type SourceKind,
  sourcesFor,
  txtRegistryFor,
  zoneFilterFor,
} from './definitions.js';
import type { Endpoint, SourceResult } from './sources/endpoint.js';

export type { SourceKind };

export interface DnsOperatorOptions {
  provider: Provider;
  sources: SourceKind[];
  ownerId: string;
  txtPrefix?: string;
  txtSuffix?: string;
  txtWildcardReplacement?: string;
  policy?: Policy;
  managedTypes?: RecordType[];
  domainFilter?: string[];
  excludeDomains?: string[];
  /**
   * Watch one namespace only. Its claims are all one tenant's: DomainPolicies are not read
   * (nor is any cluster-scoped object), and claims on one name always merge.
   */
  namespace?: string;
  /** Claims on one name from several namespaces: the first namespace keeps it (default), or merge. */
  crossNamespaceClaims?: CrossNamespaceClaims;
  labelFilter?: string;
  annotationFilter?: string;
  /** external-dns's --annotation-prefix: annotations are read under it alone. */
  annotationPrefix?: string;
  /** external-dns's --ignore-ingress-tls-spec: Ingresses' spec.tls hosts claim no name. */
  ignoreIngressTlsSpec?: boolean;
  ingressClasses?: string[];
  /** Read ListenerSets: routes attached to one get names from its listeners (--gateway-listener-sets). */
  gatewayListenerSets?: boolean;
  defaultTTL?: number;
  /** Full resync: re-read every zone and look at every name. Default 10 minutes. */
  resyncIntervalMs?: number;
  /** Names reconciled at once; high, so their changes fill provider calls. Default 1000. */
  concurrency?: number;
  /** Which CNAMEs become alias records (Route53: route53Aliases). */
  aliases?: AliasPolicy;
  /**
   * The first-sync guard: the share of a zone's owned records its first sync may delete
   * (default 0.1; 1 turns it off), and the ConfigMap keeping which zones were synced under
   * which settings (none: each start is a first sync).
   */
  firstSync?: {
    deleteLimit?: number;
    configMap?: { namespace: string; name: string };
    /** How often held deletes look for a confirmation (default 30 s). */
    confirmPollMs?: number;
  };
  /**
   * Hold claiming objects with a finalizer until their records are gone (default true).
   * Off for one-shot runs: nothing would be left running to release it.
   */
  finalizers?: boolean;
  /** Where Events go; default the manager's recorder, writing them to the API. */
  events?: EventSink;
  /**
   * Write nothing to the cluster: no finalizers, no DNSEndpoint status, no Events unless
   * `events` takes them. With a dry-run provider: a plan (kubectl-chousei `dns plan`).
   */
  readOnly?: boolean;
  logger: Logger;
}

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

/** Where a DNSEndpoint lists `e` (the first listing: a repeat is refused as invalid). */
function specIndex(obj: DNSEndpoint, e: Endpoint): number {
  return (obj.spec?.endpoints ?? []).findIndex(
    (ep) => ep.recordType === e.type && normalizeName(ep.dnsName ?? '') === e.name,
  );
}

/** The finalizer that holds a source object until its records are gone. */
export const FINALIZER = 'dns.chousei.dev/records';

/** The running parts of a dns-operator, for tests and the CLI. */
export interface DnsOperator {
  zones: ZoneCache;
  names: NameReconciler;
  namesController: Controller;
  /** Re-reads every zone and queues every claimed or owned name; `signal` gives up. */
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
 * Wires the dns-operator into a manager: one controller per DNS name (fed by Ingresses,
 * Services and DNSEndpoints through a name index), one per source kind for finalizers,
 * validation Events and DNSEndpoint status, and a periodic full resync.
 */
export function setupDnsOperator(manager: Manager, opts: DnsOperatorOptions): DnsOperator {
  const log = opts.logger;
  const registry = txtRegistryFor(opts);
  const zones = new ZoneCache(opts.provider, registry, zoneFilterFor(opts.domainFilter), log);
  manager.addReadyCheck('dns-zones', () => zones.readiness());
  const batcher = new ChangeBatcher(opts.provider, (zone, result) => zones.record(zone, result));
  const events: EventSink =
    opts.events ??
    (opts.readOnly ? { event: () => {} } : manager.eventRecorder('chousei-dns-operator'));
  const finalizers = opts.finalizers !== false && !opts.readOnly;
  const managedTypes = opts.managedTypes ?? [...DEFAULT_MANAGED_TYPES];
  // What an endpoint of a type left out of --managed-record-types gets, Event and status.
  const unmanaged = (e: Endpoint) =>
    `${e.type} ${e.name} is not published: ${e.type} is not among the managed record types (${managedTypes.join(', ')}); add it to --managed-record-types`;
  // Route names depend on Gateways too: their cache comes first, so routes resolve against it.
  const gateways = opts.sources.some(isGatewayRouteSource)
    ? new GatewayCache(manager.cache, {
        ...(opts.namespace ? { namespace: opts.namespace } : {}),
        listenerSets: opts.gatewayListenerSets ?? false,
      })
    : undefined;
  const sources = sourcesFor(opts, gateways);
  const { defs, resultOf, claims, claimant } = sources;
  const scope = {
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.labelFilter ? { labelSelector: opts.labelFilter } : {}),
  };

  const informers = new Map<SourceKind, Informer<KubeObject>>();
  const defsByKind = new Map<string, SourceDef>();
  for (const def of defs) {
    defsByKind.set(def.kind, def);
    const settings = def.transform ? { transform: def.transform } : {};
    informers.set(
      def.kind,
      manager.cache.informer(def.resource, scope, def.indexers ?? {}, settings),
    );
  }

  // Who claims which names, kept up to date by the names controller's watches below.
  const index = new ClaimIndex();
  const claimantsOf = (name: string): Claimant[] => {
    const out: Claimant[] = [];
    for (const ref of index.holders(name)) {
      const slash = ref.indexOf('/');
      const def = defsByKind.get(ref.slice(0, slash))!;
      const obj = informers.get(def.kind)!.store.get(ref.slice(slash + 1));
      if (!obj || obj.metadata?.deletionTimestamp) continue;
      out.push(claimant(def, obj));
    }
    return out;
  };
  /** Records what the object claims now; returns the names it claimed before or claims now. */
  const reindex = (def: SourceDef, obj: KubeObject): Array<{ name: string }> => {
    const key = objectKey(obj);
    const stored = informers.get(def.kind)!.store.get(key);
    return index.set(`${def.kind}/${key}`, stored ? claims(def, stored) : []).map((name) => ({
      name,
    }));
  };
  const routeDefs = defs.filter((d) => isGatewayRouteSource(d.kind));
  /** The routes of `def` whose names a Gateway, ListenerSet or namespace change may change. */
  const routesTouched = (def: SourceDef, change: GatewayChange): KubeObject[] => {
    const store = informers.get(def.kind)!.store;
    const found = new Set(change.parents.flatMap((p) => store.byIndex(PARENTS_INDEX, p)));
    if (change.namespace)
      for (const o of store.byIndex('namespace', change.namespace)) found.add(o);
    return [...found];
  };

  const sourceControllers = new Map<SourceKind, Controller>();
  const onOutcome = (_name: string, _outcome: NameOutcome, claimants: Claimant[]) => {
    const dnsEndpoints = sourceControllers.get('dnsendpoint');
    for (const c of claimants) {
      if (c.resource.startsWith('dnsendpoint/'))
        dnsEndpoints?.enqueue({
          namespace: c.obj.metadata?.namespace ?? '',
          name: c.obj.metadata?.name ?? '',
        });
    }
  };
  const stateMap = opts.firstSync?.configMap;
  const firstSyncState: FirstSyncState = stateMap
    ? new ConfigMapFirstSyncState(
        manager.client,
        stateMap.namespace,
        stateMap.name,
        log,
        opts.readOnly,
      )
    : new MemoryFirstSyncState();
  const guard = new FirstSyncGuard({
    deleteLimit: opts.firstSync?.deleteLimit ?? 0.1,
    settings: opts,
    state: firstSyncState,
    mode: opts.readOnly ? 'report' : 'hold',
    events,
    log,
    requeue: (held) => {
      for (const name of held) namesController.enqueue({ name });
    },
    ...(opts.firstSync?.confirmPollMs ? { confirmPollMs: opts.firstSync.confirmPollMs } : {}),
  });
  // Who may claim which names: read only when serving every namespace.
  const policies = opts.namespace ? undefined : new DomainPolicyCache(manager.cache);
  const names = new NameReconciler({
    claimants: claimantsOf,
    zones,
    batcher,
    registry,
    policy: opts.policy ?? 'sync',
    tenancy: {
      ...(policies ? { judge: (ns: string, name: string) => policies.judge(ns, name) } : {}),
      crossNamespaceClaims: opts.crossNamespaceClaims ?? 'refuse',
    },
    managedTypes: new Set(managedTypes),
    defaultTTL: opts.defaultTTL ?? 300,
    events,
    ...(opts.aliases ? { aliases: opts.aliases } : {}),
    guard,
    onOutcome,
  });

  // A changed object reconciles the names it claimed too, so a record it left goes.
  const namesBuilder = manager
    .controller('dns-names')
    .withOptions({ maxConcurrentReconciles: opts.concurrency ?? 1000 });
  for (const def of defs) namesBuilder.watches(def.resource, (obj) => reindex(def, obj), scope);
  // A Gateway change makes its routes' names anew (their results were made against the old one).
  gateways?.watchedBy(namesBuilder, (change) =>
    routeDefs.flatMap((def) =>
      routesTouched(def, change).flatMap((obj) => {
        sources.forget(obj);
        return reindex(def, obj);
      }),
    ),
  );
  // A policy change looks again at the claimed names under the suffixes it had and has; a
  // namespace's new labels at the names claimed from it.
  policies?.watchedBy(namesBuilder, {
    byPolicy: (change) =>
      [...claimedNames()].filter((n) => touchedBy(change, n)).map((name) => ({ name })),
    byNamespace: (namespace) => {
      const claimed = new Set<string>();
      for (const def of defs)
        for (const obj of informers.get(def.kind)!.store.byIndex('namespace', namespace))
          for (const n of claims(def, obj)) claimed.add(n);
      return [...claimed].map((name) => ({ name }));
    },
  });
  // Each name looked at moves the guard's pass on; one failing leaves its zone unjudged.
  const namesController = namesBuilder.complete(async (req, ctx) => {
    const zone = () => zones.zoneFor(req.name)?.name;
    try {
      const result = await names.reconcile(req, ctx);
      guard.reconciled(req.name, zone(), names.outcomes.get(req.name)?.reason === 'Failed');
      return result;
    } catch (err) {
      guard.reconciled(req.name, zone(), true);
      throw err;
    }
  });

  const ownedBy = async (resource: string, signal: AbortSignal): Promise<boolean> => {
    for (const zoneName of zones.zoneNames()) {
      const zone = zones.zoneFor(zoneName)!;
      for (const owned of (await zones.view(zone, signal)).records.values()) {
        if (
          owned.ownership?.owner === registry.ownerId &&
          sameResource(owned.ownership.resource, resource)
        )
          return true;
      }
    }
    return false;
  };

  for (const def of defs) {
    const informer = informers.get(def.kind)!;
    const builder = manager.controller(`dns-${def.kind}`).for(def.resource, scope);
    // A route gains names (a finalizer) or loses them (its release) with its Gateways too.
    if (isGatewayRouteSource(def.kind))
      gateways?.watchedBy(builder, (change) =>
        routesTouched(def, change).map((obj) => ({
          namespace: obj.metadata?.namespace ?? '',
          name: obj.metadata?.name ?? '',
        })),
      );
    const controller = builder.complete(async (req, ctx) => {
      try {
        return await reconcileSource(req, ctx.signal);
      } catch (err) {
        // Gone meanwhile: nothing of it is left to hold or release.
        if (isNotFound(err)) return;
        throw err;
      }
    });
    sourceControllers.set(def.kind, controller);

    async function reconcileSource(req: { namespace?: string; name: string }, signal: AbortSignal) {
      const obj = informer.store.get(objectKey(req));
      if (!obj) return;
      const resource = resourceLabel(def.label, obj);
      const admitted = def.admits(obj);
      const result = admitted ? resultOf(def, obj) : undefined;
      const deleting = !!obj.metadata?.deletionTimestamp;
      if (result && !deleting) {
        for (const e of result.errors)
          events.event(obj, 'Warning', 'InvalidInput', 'Validate', `${e.field}: ${e.message}`);
        for (const e of result.unmanaged ?? []) {
          const i = def.kind === 'dnsendpoint' ? specIndex(obj as DNSEndpoint, e) : -1;
          const note = i >= 0 ? `spec.endpoints[${i}]: ${unmanaged(e)}` : unmanaged(e);
          events.event(obj, 'Warning', 'UnmanagedType', 'Validate', note);
        }
        if (finalizers && result.names.length && !hasFinalizer(obj, FINALIZER)) {
          await addFinalizer(manager.client, def.resource, obj, FINALIZER);
        }
        if (def.kind === 'dnsendpoint' && !opts.readOnly)
          await updateStatus(obj as DNSEndpoint, result);
        if (result.names.length) return;
      }
      if (opts.readOnly || !hasFinalizer(obj, FINALIZER)) return;
      if (!zones.loaded) await zones.load(signal);
      // Its names are queued by the names controller; the finalizer goes once none of
      // the records it owned is left.
      if (await ownedBy(resource, signal)) return { requeueAfter: 500 };
      await removeFinalizer(manager.client, def.resource, obj, FINALIZER);
      return;
    }
  }

  const updateStatus = async (obj: DNSEndpoint, result: SourceResult) => {
    const endpoints: NonNullable<DNSEndpointStatus['endpoints']> = (obj.spec?.endpoints ?? []).map(
      (ep, i) => {
        const error = result.errors.find((e) => e.field.startsWith(`spec.endpoints[${i}]`));
        const dnsName = ep.dnsName ?? '';
        const recordType = ep.recordType ?? 'A';
        if (error)
          return {
            dnsName,
            recordType,
            published: false,
            reason: 'Invalid',
            message: `${error.field}: ${error.message}`,
          };
        const skipped = result.unmanaged?.find((e) => specIndex(obj, e) === i);
        if (skipped)
          return {
            dnsName,
            recordType,
            published: false,
            reason: 'UnmanagedType',
            message: unmanaged(skipped),
          };
        const outcome = names.outcomeFor(
          dnsName.toLowerCase().replace(/\.$/, ''),
          obj.metadata?.namespace ?? '',
        );
        if (!outcome)
          return {
            dnsName,
            recordType,
            published: false,
            reason: 'Pending',
            message: 'not reconciled yet',
          };
        return {
          dnsName,
          recordType,
          published: outcome.published,
          reason: outcome.reason,
          message: outcome.message,
        };
      },
    );
    const status: DNSEndpointStatus = {
      observedGeneration: obj.metadata?.generation ?? 0,
      endpoints,
    };
    if (JSON.stringify(obj.status ?? {}) === JSON.stringify(status)) return;
    await manager.client.patchStatus(
      DNSEndpoints,
      { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' },
      {
        type: 'merge',
        patch: { status },
      },
    );
  };

  const claimedNames = () => new Set(index.names());

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
    const all = claimedNames();
    for (const name of zones.ownedNames()) all.add(name);
    await guard.startPass(zones.ownedCounts(), all);
    for (const name of all) namesController.enqueue({ name });
    resyncDuration.observe((performance.now() - started) / 1000);
    lastResync.set(Date.now() / 1000);
    log.info(
      { names: all.size, ms: Math.round(performance.now() - started) },
      'full resync queued',
    );
    firstResync();
  };

  const untilIdle = async (signal: AbortSignal) => {
    await Promise.race([
      resynced,
      new Promise((r) => signal.addEventListener('abort', r, { once: true })),
    ]);
    const queue = namesController.queue;
    while (!signal.aborted && (queue.len() > 0 || queue.processing > 0)) await sleep(50, signal);
  };
  const failures = () => [...names.outcomes.values()].filter((o) => o.reason === 'Failed').length;

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

  return { zones, names, namesController, resync, claimedNames, untilIdle, failures };
}
