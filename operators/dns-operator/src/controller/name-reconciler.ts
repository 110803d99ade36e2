import {
  ALIAS_TTL,
  type AliasPolicy,
  type ApplyResult,
  type DesiredRecord,
  type PlannedChange,
  type Policy,
  plan,
  type RecordSet,
  type RecordType,
  recordKey,
  recordsAt,
  sameResource,
  type Zone,
  type ZoneView,
} from '@chousei/dns';
import type { ReconcileContext, Result } from '@chousei/runtime';
import { counter, gauge } from '@chousei/runtime';
import type { Endpoint } from '../sources/endpoint.js';
import { type Claimant, mergeClaims } from './claims.js';
import type { EventSink } from './events.js';
import type { FirstSyncGuard } from './first-sync-guard.js';
import type { Registry } from './registry.js';
import { admitClaims, type RefusedClaim, resourceNamespace, type TenancyRules } from './tenancy.js';
import type { ZoneCache } from './zone-cache.js';

/** Where a name stands after its last reconcile (reported in DNSEndpoint status). */
export interface NameOutcome {
  published: boolean;
  reason: 'Published' | 'Conflict' | 'NoZone' | 'Pending' | 'Failed' | RefusedClaim['reason'];
  message: string;
}

export interface NameReconcilerOptions {
  /** Objects (not being deleted, filters passed) claiming a name. */
  claimants(name: string): Claimant[];
  zones: ZoneCache;
  /** The provider behind the ownership registry: reads who owns what, writes changes. */
  registry: Registry;
  policy: Policy;
  /** Which namespaces' claims on a name are published. */
  tenancy: TenancyRules;
  managedTypes: ReadonlySet<RecordType>;
  defaultTTL: number;
  events: EventSink;
  /** Which CNAMEs become alias records, when the provider has them (Route53). */
  aliases?: AliasPolicy;
  /** Holds deletes of a zone's first sync (see FirstSyncGuard). */
  guard?: FirstSyncGuard;
  /** Told when a name's outcome changes, with its claimants (to refresh their status). */
  onOutcome?: (name: string, outcome: NameOutcome, claimants: Claimant[]) => void;
}

const planChanges = counter(
  'chousei_dns_plan_changes_total',
  'Record changes planned and applied, by action and result',
  ['action', 'result'],
);
// By the reason DNSEndpoint status shows: Failed counts names whose records wait for the
// provider (the alert on records pending apply), Conflict the names others hold.
const namesByOutcome = gauge(
  'chousei_dns_names',
  'Claimed DNS names by the outcome of their last reconcile',
  ['reason'],
);
const OUTCOME_REASONS = [
  'Published',
  'Conflict',
  'NoZone',
  'Pending',
  'Failed',
] as const satisfies ReadonlyArray<NameOutcome['reason']>;

/**
 * Reconciles one DNS name: what its claimants ask for (merged), against what the zone
 * holds and we own, through the planner; the changes go to the provider in shared
 * batches. Only the names an event touched are looked at, never every record.
 */
export class NameReconciler {
  readonly outcomes = new Map<string, NameOutcome>();
  /** Per name, the namespaces whose claims were refused, and why. */
  private readonly refusals = new Map<string, Map<string, NameOutcome>>();
  /** Per name, the outcome and refusals last reported to onOutcome (the objects above). */
  private readonly reported = new Map<string, Report>();

  constructor(private readonly opts: NameReconcilerOptions) {
    // Every reason from the start, so a rule sees 0 rather than no series.
    for (const reason of OUTCOME_REASONS) namesByOutcome.inc({ reason }, 0);
  }

  /**
   * The steps of one name: its zone, read through the registry; the claims admitted and
   * merged into the records wanted; the plan against the records we own; the changes,
   * unless the first-sync guard holds them, applied with their ownership marks; Events
   * and the outcome.
   */
  async reconcile(name: string, ctx: ReconcileContext): Promise<Result | undefined> {
    const { zones } = this.opts;
    if (!zones.loaded) await zones.load(ctx.signal);
    const claimants = this.opts.claimants(name);
    const zone = zones.zoneFor(name);
    if (!zone) return this.noZone(name, claimants);
    const view = await this.read(zone, name, claimants, ctx.signal);
    const wanted = this.wanted(name, zone, view, claimants);
    const planned = this.plan(name, view, wanted);
    if (this.held(zone, name, planned.changes, claimants)) return;
    const result = await this.apply(zone, view, name, planned.changes, claimants, ctx.signal);
    if (result) {
      this.report(zone, planned.changes, result, wanted.admitted, ctx);
      if (result.failed.length) this.failed(name, result, wanted.admitted, claimants);
    }
    this.settleFromPlan(name, wanted, planned.conflicts[0]?.message, claimants);
    return;
  }

  /** A name outside every managed zone: its claimants are told. */
  private noZone(name: string, claimants: Claimant[]): undefined {
    const managed = this.opts.zones.zoneNames();
    const message = managed.length
      ? `${name} is outside every managed zone (${managed.join(', ')})`
      : `${name} cannot be published: no zone is managed (the operator's log says why)`;
    for (const c of claimants)
      this.opts.events.event(c.obj, 'Warning', 'NoZone', 'Publish', message);
    this.refusals.delete(name);
    this.settle(name, { published: false, reason: 'NoZone', message }, claimants);
    return undefined;
  }

  /** The registry's view of the zone; a failed read settles the name as Failed. */
  private read(
    zone: Zone,
    name: string,
    claimants: Claimant[],
    signal: AbortSignal,
  ): Promise<ZoneView> {
    return this.opts.zones.view(zone, signal).catch((err: Error) => {
      // The zone could not be read (again): whatever was published may be out of date.
      const message = `reading zone ${zone.name}: ${err.message}`;
      this.settle(name, { published: false, reason: 'Failed', message }, claimants);
      throw err;
    });
  }

  /**
   * The records the admitted claims want at `name`, merged (refused and losing claimants
   * are told), and what a claimant with an empty load-balancer status published before.
   */
  private wanted(name: string, zone: Zone, view: ZoneView, claimants: Claimant[]): Wanted {
    const { registry, events } = this.opts;
    const { admitted, refused } = admitClaims(
      name,
      claimants,
      this.opts.tenancy,
      publishedBy(name, view, registry, this.opts.managedTypes),
    );
    this.refuse(name, refused);
    const merged = mergeClaims(name, admitted);
    for (const { claimant, reason } of merged.losers) {
      events.event(claimant.obj, 'Warning', 'Conflict', 'Publish', `not published: ${reason}`);
    }
    const desired: DesiredRecord[] = merged.endpoints.flatMap(({ endpoint, claimant }) =>
      this.toRecords(endpoint, zone).map((record) => ({
        record,
        resource: claimant.resource,
        ...(endpoint.ttl === undefined && !record.alias ? { keepTtl: true } : {}),
      })),
    );
    keepPublished(name, view, registry, admitted, desired);
    return { admitted, desired, lost: merged.losers.length > 0 };
  }

  /** The changes that bring `name` to what is wanted; conflicts are told to their claimant. */
  private plan(name: string, view: ZoneView, wanted: Wanted): ReturnType<typeof plan> {
    const planned = plan({
      desired: wanted.desired,
      view,
      registry: this.opts.registry.txt,
      names: [name],
      policy: this.opts.policy,
      managedTypes: this.opts.managedTypes,
    });
    for (const conflict of planned.conflicts) {
      const c = wanted.admitted.find((x) => x.resource === conflict.desired.resource);
      if (c)
        this.opts.events.event(
          c.obj,
          'Warning',
          'Conflict',
          'Publish',
          `not published: ${conflict.message}`,
        );
    }
    return planned;
  }

  /**
   * Hands the planned changes to the registry (which adds their ownership marks); undefined
   * when nothing is written. A call that failed as a whole settles the name as Failed.
   */
  private async apply(
    zone: Zone,
    view: ZoneView,
    name: string,
    changes: PlannedChange[],
    claimants: Claimant[],
    signal: AbortSignal,
  ): Promise<ApplyResult | undefined> {
    try {
      return await this.opts.registry.apply(zone, view, changes, signal);
    } catch (err) {
      this.settle(
        name,
        { published: false, reason: 'Failed', message: (err as Error).message },
        claimants,
      );
      throw err;
    }
  }

  /** Counts the planned changes and tells each applied one: an Event and a log line. */
  private report(
    zone: Zone,
    changes: PlannedChange[],
    result: ApplyResult,
    admitted: Claimant[],
    ctx: ReconcileContext,
  ): void {
    for (const c of changes) {
      const ok = result.applied.some((a) => a.record === c.record);
      planChanges.inc({ action: c.action, result: ok ? 'applied' : 'failed' });
      if (!ok) continue;
      const what = `${c.action === 'delete' ? 'deleted' : 'published'} ${c.record.name} ${c.record.type} ${describe(c.record)}`;
      const owner = admitted.find((x) => x.resource === c.resource) ?? admitted[0];
      if (owner)
        this.opts.events.event(
          owner.obj,
          'Normal',
          c.action === 'delete' ? 'Deleted' : 'Published',
          'Publish',
          what,
        );
      ctx.log.info(
        { zone: zone.name, action: c.action, type: c.record.type, values: c.record.values },
        what,
      );
    }
  }

  /** Changes the provider rejected: told, settled as Failed, and retried. */
  private failed(
    name: string,
    result: ApplyResult,
    admitted: Claimant[],
    claimants: Claimant[],
  ): never {
    const message = result.failed
      .map((f) => `${f.change.record.name} ${f.change.record.type}: ${f.error.message}`)
      .join('; ');
    for (const c of admitted)
      this.opts.events.event(c.obj, 'Warning', 'PublishFailed', 'Publish', message);
    this.settle(name, { published: false, reason: 'Failed', message }, claimants);
    // The zone is re-read before the retry: the failure may come from drift.
    throw new Error(`changes to ${name} rejected: ${message}`);
  }

  /**
   * Whether the guard holds this name's changes: its deletes wait for the zone's first sync
   * to be judged or confirmed, and the rest of the name with them (a type change is a
   * delete and a create in one group).
   */
  private held(zone: Zone, name: string, changes: PlannedChange[], claimants: Claimant[]): boolean {
    const deletes = changes.filter((c) => c.action === 'delete').map((c) => c.record);
    if (!this.opts.guard || this.opts.guard.admits(zone.name, name, deletes)) return false;
    const message = `deletes of ${deletes.map((r) => `${r.name} ${r.type}`).join(', ')} held: first sync of zone ${zone.name} (see the DeletesHeld Event)`;
    this.settle(name, { published: false, reason: 'Pending', message }, claimants);
    return true;
  }

  /** The record sets of an endpoint: itself, or the alias records a CNAME becomes. */
  private toRecords(endpoint: Endpoint, zone: Zone): RecordSet[] {
    const { name, type, targets } = endpoint;
    if (type === 'CNAME' && targets.length === 1 && this.opts.aliases) {
      const alias = this.opts.aliases(targets[0]!, endpoint.alias, zone);
      // Route53 reads aliases back with ALIAS_TTL: use it, or every pass would differ.
      if (alias)
        return alias.types.map((t) => ({
          name,
          type: t,
          ttl: ALIAS_TTL,
          values: [],
          alias: alias.target,
        }));
    }
    return [{ name, type, ttl: endpoint.ttl ?? this.opts.defaultTTL, values: [...targets].sort() }];
  }

  private settleFromPlan(
    name: string,
    { desired, lost }: Wanted,
    conflict: string | undefined,
    claimants: Claimant[],
  ) {
    if (conflict)
      this.settle(name, { published: false, reason: 'Conflict', message: conflict }, claimants);
    else if (desired.length) {
      const message = desired.map((d) => `${d.record.type} ${describe(d.record)}`).join('; ');
      this.settle(
        name,
        { published: true, reason: lost ? 'Conflict' : 'Published', message },
        claimants,
      );
    } else
      this.settle(
        name,
        { published: false, reason: 'Pending', message: 'no targets yet' },
        claimants,
      );
  }

  /** Where a name stands for the claims of one namespace: refused, or the name's outcome. */
  outcomeFor(name: string, namespace: string): NameOutcome | undefined {
    return this.refusals.get(name)?.get(namespace) ?? this.outcomes.get(name);
  }

  /** Tells each refused claimant why, and keeps it for their status. */
  private refuse(name: string, refused: RefusedClaim[]): void {
    const byNamespace = new Map<string, NameOutcome>();
    for (const { claimant, reason, message } of refused) {
      this.opts.events.event(
        claimant.obj,
        'Warning',
        reason,
        'Publish',
        `not published: ${message}`,
      );
      byNamespace.set(claimant.obj.metadata?.namespace ?? '', {
        published: false,
        reason,
        message,
      });
    }
    if (byNamespace.size) this.refusals.set(name, byNamespace);
    else this.refusals.delete(name);
  }

  private settle(name: string, fresh: NameOutcome, claimants: Claimant[]): void {
    const before = this.outcomes.get(name);
    // The same outcome as before (every name of a resync) keeps the object held: replacing
    // it would leave thousands of old ones for the next full collection.
    const outcome = before && sameOutcome(before, fresh) ? before : fresh;
    if (before) namesByOutcome.dec({ reason: before.reason });
    if (claimants.length) {
      this.outcomes.set(name, outcome);
      namesByOutcome.inc({ reason: outcome.reason });
    } else {
      this.outcomes.delete(name);
      this.refusals.delete(name);
    }
    const now: Report = { outcome, refusals: this.refusals.get(name) };
    const last = this.reported.get(name);
    if (last && sameReport(last, now)) return;
    if (claimants.length) this.reported.set(name, now);
    else this.reported.delete(name);
    this.opts.onOutcome?.(name, outcome, claimants);
  }
}

/** What the admitted claims on a name want. */
interface Wanted {
  admitted: Claimant[];
  desired: DesiredRecord[];
  /** Some claimant lost the name to another (a Conflict outcome even when published). */
  lost: boolean;
}

/**
 * An empty load-balancer status never deletes by itself: keeps (adds to `desired`) what a
 * claimant asking for nothing at `name` published, until it is deleted or stops claiming it.
 */
function keepPublished(
  name: string,
  view: ZoneView,
  registry: Registry,
  admitted: Claimant[],
  desired: DesiredRecord[],
): void {
  const wanted = new Set(desired.map((d) => d.record.type));
  for (const c of admitted) {
    const asks = (e: { name: string }) => e.name === name;
    // Asking for an unmanaged type is asking: not an empty load-balancer status.
    if (!c.result.names.includes(name) || c.result.endpoints.some(asks)) continue;
    if (c.result.unmanaged?.some(asks)) continue;
    for (const owned of recordsAt(view, name)) {
      const r = owned.record;
      if (wanted.has(r.type) || !sameResource(owned.ownership?.resource, c.resource)) continue;
      if (!registry.owns(owned)) continue;
      desired.push({ record: r, resource: c.resource });
      wanted.add(r.type);
    }
  }
}

interface Report {
  outcome: NameOutcome;
  refusals: Map<string, NameOutcome> | undefined;
}

function sameReport(a: Report, b: Report): boolean {
  if (!sameOutcome(a.outcome, b.outcome) || (a.refusals?.size ?? 0) !== (b.refusals?.size ?? 0))
    return false;
  for (const [namespace, refused] of a.refusals ?? []) {
    const other = b.refusals?.get(namespace);
    if (!other || !sameOutcome(refused, other)) return false;
  }
  return true;
}

function sameOutcome(a: NameOutcome, b: NameOutcome): boolean {
  return a.published === b.published && a.reason === b.reason && a.message === b.message;
}

/** Namespaces of the objects our ownership records of `name` were published for. */
function publishedBy(
  name: string,
  view: ZoneView,
  registry: Registry,
  types: ReadonlySet<RecordType>,
): Set<string> {
  const namespaces = new Set<string>();
  for (const type of types) {
    const owned = view.records.get(recordKey({ name, type }));
    if (!owned?.ownership?.resource || !registry.owns(owned)) continue;
    const ns = resourceNamespace(owned.ownership.resource);
    if (ns !== undefined) namespaces.add(ns);
  }
  return namespaces;
}

function describe(r: RecordSet): string {
  return r.alias ? `alias ${r.alias.dnsName}` : r.values.join(',');
}
