import { DEFAULT_MANAGED_TYPES, normalizeName } from '@chousei/dns';
import {
  addFinalizer,
  type Controller,
  hasFinalizer,
  isNotFound,
  type KubeObject,
  type Manager,
  objectKey,
  type Result,
  removeFinalizer,
} from '@chousei/runtime';
import { type DNSEndpoint, type DNSEndpointStatus, DNSEndpoints } from './api/dnsendpoint.js';
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
    const builder = manager.controller(`dns-${def.kind}`).for(def.resource, watch.scope);
    // A route gains names (a finalizer) or loses them (its release) with its Gateways too.
    if (isGatewayRouteSource(def.kind))
      watch.gateways?.watchedBy(builder, (change) =>
        watch.routesTouched(def, change).map((obj) => ({
          namespace: obj.metadata?.namespace ?? '',
          name: obj.metadata?.name ?? '',
        })),
      );
    const source = new SourceReconciler(manager, opts, parts, def);
    const controller = builder.complete(async (req, ctx) => {
      try {
        return await source.reconcile(objectKey(req), ctx.signal);
      } catch (err) {
        // Gone meanwhile: nothing of it is left to hold or release.
        if (isNotFound(err)) return;
        throw err;
      }
    });
    controllers.set(def.kind, controller);
  }
  return controllers;
}

/** Reconciles the objects of one source kind. */
class SourceReconciler {
  private readonly finalizers: boolean;
  private readonly managedTypes: readonly string[];

  constructor(
    private readonly manager: Manager,
    private readonly opts: SourceOpts,
    private readonly parts: SourceParts,
    private readonly def: SourceDef,
  ) {
    this.finalizers = opts.finalizers !== false && !opts.readOnly;
    this.managedTypes = opts.managedTypes ?? [...DEFAULT_MANAGED_TYPES];
  }

  async reconcile(key: string, signal: AbortSignal): Promise<Result | undefined> {
    const { def, manager } = this;
    const obj = this.parts.watch.informer(def).store.get(key);
    if (!obj) return;
    const admitted = def.admits(obj);
    const result = admitted ? this.parts.watch.sources.resultOf(def, obj) : undefined;
    if (result && !obj.metadata?.deletionTimestamp) {
      this.validationEvents(obj, result);
      if (this.finalizers && result.names.length && !hasFinalizer(obj, FINALIZER)) {
        await addFinalizer(manager.client, def.resource, obj, FINALIZER);
      }
      if (def.kind === 'dnsendpoint' && !this.opts.readOnly)
        await this.updateStatus(obj as DNSEndpoint, result);
      if (result.names.length) return;
    }
    if (this.opts.readOnly || !hasFinalizer(obj, FINALIZER)) return;
    return this.release(obj, signal);
  }

  /** Takes the finalizer off once none of the records the object owned is left. */
  private async release(obj: KubeObject, signal: AbortSignal): Promise<Result | undefined> {
    const { zones } = this.parts;
    if (!zones.loaded) await zones.load(signal);
    // Its names are queued by the names controller.
    if (await this.parts.registry.holdsRecordsOf(resourceLabel(this.def.label, obj), signal))
      return { requeueAfter: 500 };
    await removeFinalizer(this.manager.client, this.def.resource, obj, FINALIZER);
    return;
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

  private async updateStatus(obj: DNSEndpoint, result: SourceResult): Promise<void> {
    const status: DNSEndpointStatus = {
      observedGeneration: obj.metadata?.generation ?? 0,
      endpoints: (obj.spec?.endpoints ?? []).map((ep, i) =>
        this.endpointStatus(obj, result, ep, i),
      ),
    };
    if (JSON.stringify(obj.status ?? {}) === JSON.stringify(status)) return;
    await this.manager.client.patchStatus(
      DNSEndpoints,
      { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' },
      { type: 'merge', patch: { status } },
    );
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
