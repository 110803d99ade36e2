// The source objects' own controllers (on the runtime's reconcileObjects): validation Events,
// DNSEndpoint status and the finalizer held while an object claims a name.
import { DEFAULT_MANAGED_TYPES, normalizeName } from '@chousei/dns';
import type {
  Controller,
  KubeObject,
  Manager,
  ObjectReconciler,
  ObjectResult,
  ReconcileContext,
  ResourceType,
} from '@chousei/runtime';
import type { DNSEndpoint, DNSEndpointStatus } from './api/dnsendpoint.js';
import { resourceLabel } from './controller/claims.js';
import type { EventSink } from './controller/events.js';
import type { NameReconciler } from './controller/name-reconciler.js';
import type { Registry } from './controller/registry.js';
import type { ZoneCache } from './controller/zone-cache.js';
import { isGatewayRouteSource, type SourceDef, type SourceKind } from './definitions.js';
import type { DnsOperatorOptions } from './options.js';
import type { Endpoint, SourceResult } from './sources/endpoint.js';
import type { SourceWatch } from './watch.js';

/** The finalizer that holds a source object until its records are gone. */
export const FINALIZER = 'dns.chousei.dev/records';

/** What the controllers of the source objects are wired to. */
export interface SourceParts {
  watch: SourceWatch;
  names: NameReconciler;
  zones: ZoneCache;
  registry: Registry;
  events: EventSink;
}

/** An object of any source kind, as the runtime hands it over: a status of its own kind. */
type SourceObject = KubeObject & { status?: unknown };

type SourceOpts = Pick<DnsOperatorOptions, 'readOnly' | 'finalizers' | 'managedTypes'>;

/**
 * One controller per source kind, of its objects: validation Events, the finalizer held
 * while an object claims names (released once the records it owned are gone) and
 * DNSEndpoint status. Their names are reconciled by the names controller.
 */
export function addSourceControllers(
  manager: Manager,
  opts: SourceOpts,
  parts: SourceParts,
): Map<SourceKind, Controller> {
  const controllers = new Map<SourceKind, Controller>();
  const { watch } = parts;
  for (const def of watch.defs) {
    // Any kind's object may have a status; only DNSEndpoints' is written.
    const rt = def.resource as ResourceType<SourceObject>;
    const builder = manager.controller(`dns-${def.kind}`).for(rt, watch.scope);
    // A route gains names (a finalizer) or loses them (its release) with its Gateways too.
    if (isGatewayRouteSource(def.kind))
      watch.gateways?.watchedBy(builder, (change) =>
        watch.routesTouched(def, change).map((obj) => ({
          namespace: obj.metadata?.namespace ?? '',
          name: obj.metadata?.name ?? '',
        })),
      );
    const controller = builder.reconcileObjects(sourceReconciler(opts, parts, def));
    controllers.set(def.kind, controller);
  }
  return controllers;
}

/**
 * The runtime's object reconciler of one source kind: a claiming object holds the
 * finalizer (not in one-shot or read-only runs: nothing would be left running to release
 * it), and loses it once no record of ours is left for it: deleted, or claiming no name.
 */
function sourceReconciler(
  opts: SourceOpts,
  parts: SourceParts,
  def: SourceDef,
): ObjectReconciler<SourceObject> {
  const source = new SourceReconciler(opts, parts, def);
  const finalizers = opts.finalizers !== false && !opts.readOnly;
  return {
    reconcile: (obj) => source.reconcile(obj),
    ...(finalizers
      ? {
          finalizer: {
            name: FINALIZER,
            needed: (obj: KubeObject) => source.claims(obj),
            cleanup: (obj: KubeObject, ctx: ReconcileContext) => source.release(obj, ctx.signal),
          },
        }
      : {}),
  };
}

/** What one source kind's objects get: validation Events, DNSEndpoint status, release. */
class SourceReconciler {
  private readonly managedTypes: readonly string[];

  constructor(
    private readonly opts: SourceOpts,
    private readonly parts: SourceParts,
    private readonly def: SourceDef,
  ) {
    this.managedTypes = opts.managedTypes ?? [...DEFAULT_MANAGED_TYPES];
  }

  /** Whether the object claims names (passes the filters and names one in our domains). */
  claims(obj: KubeObject): boolean {
    return this.parts.watch.sources.claims(this.def, obj).length > 0;
  }

  reconcile(obj: KubeObject): ObjectResult<unknown> | undefined {
    if (!this.def.admits(obj)) return undefined;
    const result = this.parts.watch.sources.resultOf(this.def, obj);
    this.validationEvents(obj, result);
    if (this.def.kind !== 'dnsendpoint' || this.opts.readOnly) return undefined;
    return { status: this.status(obj as DNSEndpoint, result) };
  }

  /** Done once none of the records the object owned is left; until then, looks again. */
  async release(obj: KubeObject, signal: AbortSignal): Promise<ObjectResult<never>> {
    const { zones, registry } = this.parts;
    if (!zones.loaded) await zones.load(signal);
    // Its names are queued by the names controller.
    const resource = resourceLabel(this.def.label, obj);
    return (await registry.holdsRecordsOf(resource, signal)) ? { requeueAfter: 500 } : {};
  }

  private validationEvents(obj: KubeObject, result: SourceResult): void {
    const { events } = this.parts;
    for (const e of result.errors)
      events.event(obj, 'Warning', 'InvalidInput', 'Validate', `${e.field}: ${e.message}`);
    for (const e of result.unmanaged ?? []) {
      const i = this.def.kind === 'dnsendpoint' ? specIndex(obj as DNSEndpoint, e) : -1;
      const note = i >= 0 ? `spec.endpoints[${i}]: ${this.unmanaged(e)}` : this.unmanaged(e);
      events.event(obj, 'Warning', 'UnmanagedType', 'Validate', note);
    }
  }

  /** What an endpoint of a type left out of --managed-record-types gets, Event and status. */
  private unmanaged(e: Endpoint): string {
    return `${e.type} ${e.name} is not published: ${e.type} is not among the managed record types (${this.managedTypes.join(', ')}); add it to --managed-record-types`;
  }

  private status(obj: DNSEndpoint, result: SourceResult): DNSEndpointStatus {
    return {
      observedGeneration: obj.metadata?.generation ?? 0,
      endpoints: (obj.spec?.endpoints ?? []).map((ep, i) =>
        this.endpointStatus(obj, result, ep, i),
      ),
    };
  }

  /** Where `spec.endpoints[i]` stands: invalid, of an unmanaged type, or its name's outcome. */
  private endpointStatus(
    obj: DNSEndpoint,
    result: SourceResult,
    ep: NonNullable<NonNullable<DNSEndpoint['spec']>['endpoints']>[number],
    i: number,
  ): NonNullable<DNSEndpointStatus['endpoints']>[number] {
    const base = { dnsName: ep.dnsName ?? '', recordType: ep.recordType ?? 'A' };
    const error = result.errors.find((e) => e.field.startsWith(`spec.endpoints[${i}]`));
    if (error)
      return {
        ...base,
        published: false,
        reason: 'Invalid',
        message: `${error.field}: ${error.message}`,
      };
    const skipped = result.unmanaged?.find((e) => specIndex(obj, e) === i);
    if (skipped)
      return {
        ...base,
        published: false,
        reason: 'UnmanagedType',
        message: this.unmanaged(skipped),
      };
    const outcome = this.parts.names.outcomeFor(
      base.dnsName.toLowerCase().replace(/\.$/, ''),
      obj.metadata?.namespace ?? '',
    );
    if (!outcome)
      return { ...base, published: false, reason: 'Pending', message: 'not reconciled yet' };
    return {
      ...base,
      published: outcome.published,
      reason: outcome.reason,
      message: outcome.message,
    };
  }
}

/** Where a DNSEndpoint lists `e` (the first listing: a repeat is refused as invalid). */
function specIndex(obj: DNSEndpoint, e: Endpoint): number {
  return (obj.spec?.endpoints ?? []).findIndex(
    (ep) => ep.recordType === e.type && normalizeName(ep.dnsName ?? '') === e.name,
  );
}
