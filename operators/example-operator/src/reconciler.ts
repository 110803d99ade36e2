import {
  type Client,
  type ConditionUpdate,
  type EventRecorder,
  gauge,
  type Informer,
  type KubeObject,
  keyOf,
  labelSelectorMatches,
  notFoundIsUndefined,
  type ObjectReconciler,
  type ObjectResult,
  objectKey,
  type PartialObjectMetadata,
  type ReconcileContext,
  type Secret,
  Secrets,
  setCondition,
} from '@chousei/runtime';
import { Reason, type SecretMirror, type SecretMirrorStatus } from './api/secretmirror.js';

/** Reports Events as this; the copies' field managers are this + the SecretMirror's uid. */
export const OPERATOR = 'chousei-example-operator';
/** Held on a SecretMirror until its copies are deleted. */
export const FINALIZER = 'example.chousei.dev/copies';
/** On each copy: the uid of the SecretMirror that made it. Only Secrets with it are changed. */
export const OWNER_LABEL = 'example.chousei.dev/mirror-uid';
/** On each copy: namespace/name of that SecretMirror, for people and for mapping events. */
export const OWNER_ANNOTATION = 'example.chousei.dev/mirror';

const mirroredSecrets = gauge(
  'example_mirrored_secrets',
  'Copies of its source Secret each SecretMirror keeps',
  ['namespace', 'name'],
);

/** What the reconciler reads: the cached metadata of Secrets and Namespaces. */
export interface MirrorView {
  /** Indexed by `ownerUid` (the OWNER_LABEL of a copy). */
  secrets: Informer<PartialObjectMetadata>;
  namespaces: Informer<PartialObjectMetadata>;
}

/** What writing the copies came to, per selected namespace. */
interface Copies {
  mirrored: string[];
  written: string[];
  conflicts: string[];
  failures: string[];
}

type Result = ObjectResult<SecretMirrorStatus>;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The secret-mirror reconcile, step by step: which namespaces are targets, prune the copies
 * no longer wanted, read the source, write a copy into each target, report. The runtime
 * hands each SecretMirror over with the finalizer on it, and writes the status returned.
 */
export class SecretMirrorReconciler implements ObjectReconciler<SecretMirror> {
  readonly finalizer = { name: FINALIZER, cleanup: this.cleanup.bind(this) };

  constructor(
    private readonly client: Client,
    private readonly view: MirrorView,
    private readonly events: EventRecorder,
  ) {}

  async reconcile(mirror: SecretMirror, ctx: ReconcileContext): Promise<Result> {
    const result = await this.mirror(mirror, ctx);
    mirroredSecrets.set(keyOf(mirror), result.status?.mirroredTo?.length ?? 0);
    return result;
  }

  private async mirror(mirror: SecretMirror, ctx: ReconcileContext): Promise<Result> {
    const targets = this.targets(mirror);
    await this.prune(mirror, targets, ctx);
    const { namespace = '' } = mirror.metadata ?? {};
    const name = mirror.spec.sourceRef.name;
    const source = await this.client.get(Secrets, { namespace, name }).catch(notFoundIsUndefined);
    if (!source) return this.sourceMissing(mirror, targets);
    const copies = await this.copyAll(mirror, source, targets);
    this.report(mirror, copies, ctx);
    const failed = copies.failures.length
      ? new Error(`copying Secret ${name} failed: ${copies.failures.join('; ')}`)
      : undefined;
    // With an error the status is written first, then the runtime retries with backoff.
    return {
      status: statusOf(mirror, copies.mirrored, readyCondition(name, targets, copies)),
      ...(failed ? { error: failed } : {}),
    };
  }

  /** Deletes every copy before the finalizer comes off. */
  async cleanup(mirror: SecretMirror, ctx: ReconcileContext): Promise<void> {
    // Asked of the API server, not the cache: the finalizer must not come off while a copy
    // made a moment ago is still on its way into the cache.
    const copies = await this.client.list(Secrets, {
      labelSelector: `${OWNER_LABEL}=${mirror.metadata?.uid ?? ''}`,
    });
    await this.deleteCopies(copies);
    mirroredSecrets.remove(keyOf(mirror));
    if (copies.length) {
      const where = copies.map((s) => s.metadata?.namespace).join(', ');
      this.events.event(mirror, 'Normal', 'Deleted', 'Cleanup', `deleted the copies in ${where}`);
      ctx.log.info({ namespaces: where }, 'deleted all copies');
    }
  }

  /** Step 1: the selected namespaces, never the SecretMirror's own or a terminating one. */
  private targets(mirror: SecretMirror): string[] {
    return this.view.namespaces.store
      .list()
      .filter(
        (ns) =>
          ns.metadata.name !== mirror.metadata?.namespace &&
          !ns.metadata.deletionTimestamp &&
          labelSelectorMatches(mirror.spec.namespaceSelector, ns.metadata.labels),
      )
      .map((ns) => ns.metadata.name ?? '')
      .sort();
  }

  /** Step 2: copies no longer wanted (namespace deselected, source renamed) are deleted. */
  private async prune(mirror: SecretMirror, targets: string[], ctx: ReconcileContext) {
    const wanted = wantedCopies(mirror, targets);
    const stale = this.owned(mirror).filter((s) => !wanted.has(objectKey(s)));
    if (!stale.length) return;
    await this.deleteCopies(stale);
    const where = stale.map((s) => s.metadata.namespace).join(', ');
    this.events.event(mirror, 'Normal', 'Deleted', 'Prune', `deleted the copies in ${where}`);
    ctx.log.info({ namespaces: where }, 'deleted copies no longer selected');
  }

  /** Step 3, no source: copies stay, so workloads keep a Secret while it is restored. */
  private sourceMissing(mirror: SecretMirror, targets: string[]): Result {
    const { namespace = '' } = mirror.metadata ?? {};
    const name = mirror.spec.sourceRef.name;
    const wanted = wantedCopies(mirror, targets);
    const held = this.owned(mirror)
      .filter((s) => wanted.has(objectKey(s)))
      .map((s) => s.metadata.namespace ?? '')
      .sort();
    const note = `Secret ${name} not found in namespace ${namespace}`;
    this.events.event(mirror, 'Warning', Reason.SourceNotFound, 'Mirror', note);
    return {
      status: statusOf(mirror, held, {
        type: 'Ready',
        status: 'False',
        reason: Reason.SourceNotFound,
        message: note,
      }),
    };
  }

  /** Step 4: a copy in each target, or the reason there is none. */
  private async copyAll(mirror: SecretMirror, source: Secret, targets: string[]): Promise<Copies> {
    const copies: Copies = { mirrored: [], written: [], conflicts: [], failures: [] };
    await Promise.all(
      targets.map(async (target) => {
        try {
          const outcome = await this.copyTo(mirror, source, target);
          if (outcome === 'conflict') copies.conflicts.push(target);
          else copies.mirrored.push(target);
          if (outcome === 'written') copies.written.push(target);
        } catch (err) {
          copies.failures.push(`${target}: ${message(err)}`);
        }
      }),
    );
    for (const list of Object.values(copies)) list.sort();
    return copies;
  }

  private async copyTo(
    mirror: SecretMirror,
    source: Secret,
    target: string,
  ): Promise<'conflict' | 'written' | 'current'> {
    const name = mirror.spec.sourceRef.name;
    const uid = mirror.metadata?.uid ?? '';
    // The cache may not have seen a Secret that is there: ask the API server.
    const existing: KubeObject | undefined =
      this.view.secrets.store.get(`${target}/${name}`) ??
      (await this.client.get(Secrets, { namespace: target, name }).catch(notFoundIsUndefined));
    if (existing && existing.metadata?.labels?.[OWNER_LABEL] !== uid) return 'conflict';
    // Server-side apply: keys the source drops leave the copy, and our own copy is forced
    // back if someone edited it. A new copy is applied unforced under a field manager of
    // this SecretMirror's own, so a Secret made in the moment since the read (by anyone, or
    // another SecretMirror) keeps its values: the apply conflicts.
    const applied = await this.client.apply(Secrets, copyOf(source, mirror, target), {
      fieldManager: `${OPERATOR}/${uid}`,
      force: existing !== undefined,
    });
    const unchanged = applied.metadata?.resourceVersion === existing?.metadata?.resourceVersion;
    return unchanged ? 'current' : 'written';
  }

  /** Step 5: Events and logs of what changed, the gauge of copies kept. */
  private report(mirror: SecretMirror, copies: Copies, ctx: ReconcileContext): void {
    const name = mirror.spec.sourceRef.name;
    for (const target of copies.conflicts) {
      const note = `Secret ${target}/${name} exists and was not made by this SecretMirror: left untouched`;
      this.events.event(mirror, 'Warning', Reason.Conflict, 'Mirror', note);
    }
    if (copies.written.length) {
      const where = copies.written.join(', ');
      this.events.event(
        mirror,
        'Normal',
        Reason.Mirrored,
        'Mirror',
        `copied Secret ${name} to ${where}`,
      );
      ctx.log.info({ namespaces: where }, 'copied');
    }
    if (copies.failures.length) {
      this.events.event(mirror, 'Warning', Reason.Failed, 'Mirror', copies.failures.join('; '));
    }
  }

  private owned(mirror: SecretMirror): PartialObjectMetadata[] {
    return this.view.secrets.store.byIndex('ownerUid', mirror.metadata?.uid ?? '');
  }

  /** Deletes copies, each only if it is still the Secret we saw (same uid). */
  private async deleteCopies(copies: KubeObject[]): Promise<void> {
    await Promise.all(
      copies.map((s) =>
        this.client
          .delete(Secrets, keyOf(s), { preconditions: { uid: s.metadata?.uid ?? '' } })
          .catch(notFoundIsUndefined),
      ),
    );
  }
}

/** The keys of the copies `mirror` should have: its source's name in each target. */
function wantedCopies(mirror: SecretMirror, targets: string[]): Set<string> {
  return new Set(targets.map((t) => `${t}/${mirror.spec.sourceRef.name}`));
}

/** The status to have: the namespaces holding a copy and Ready, for this generation. */
function statusOf(
  mirror: SecretMirror,
  mirroredTo: string[],
  ready: ConditionUpdate,
): SecretMirrorStatus {
  const observedGeneration = mirror.metadata?.generation;
  const { conditions } = setCondition(mirror.status?.conditions, { ...ready, observedGeneration });
  return { ...mirror.status, observedGeneration, mirroredTo, conditions };
}

/** The copy of `source` in `target`: its type and data, marked as this SecretMirror's. */
function copyOf(source: Secret, mirror: SecretMirror, target: string): Secret {
  return {
    metadata: {
      name: source.metadata?.name ?? '',
      namespace: target,
      labels: { [OWNER_LABEL]: mirror.metadata?.uid ?? '' },
      annotations: { [OWNER_ANNOTATION]: objectKey(mirror) },
    },
    ...(source.type ? { type: source.type } : {}),
    // Keys removed from the source leave the copy too: apply drops fields it no longer sets.
    data: source.data ?? {},
  };
}

function readyCondition(name: string, targets: string[], copies: Copies): ConditionUpdate {
  if (copies.conflicts.length) {
    return {
      type: 'Ready',
      status: 'False',
      reason: Reason.Conflict,
      message: `Secret ${name} already exists in ${copies.conflicts.join(', ')} and was not made by this SecretMirror; delete it there to let the copy be made`,
    };
  }
  if (copies.failures.length) {
    return {
      type: 'Ready',
      status: 'False',
      reason: Reason.Failed,
      message: copies.failures.join('; '),
    };
  }
  return {
    type: 'Ready',
    status: 'True',
    reason: Reason.Mirrored,
    message: targets.length
      ? `copied to ${targets.length} namespace(s)`
      : 'no namespace matches spec.namespaceSelector',
  };
}
