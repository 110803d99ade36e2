import {
  type ConditionUpdate,
  type Controller,
  finalize,
  gauge,
  generationChanged,
  type KubeObject,
  labelSelectorMatches,
  labelsChanged,
  type Manager,
  notFoundIsUndefined,
  objectKey,
  or,
  type PartialObjectMetadata,
  type Predicate,
  parseObjectKey,
  type ReconcileContext,
  type Request,
  resourceType,
  type Secret,
  Secrets,
  setCondition,
} from '@chousei/runtime';
import { Reason, type SecretMirror, SecretMirrors } from './api/secretmirror.js';

/** Reports Events as this; the copies' field managers are this + the SecretMirror's uid. */
export const OPERATOR = 'chousei-example-operator';
/** Held on a SecretMirror until its copies are deleted. */
export const FINALIZER = 'example.chousei.dev/copies';
/** On each copy: the uid of the SecretMirror that made it. Only Secrets with it are changed. */
export const OWNER_LABEL = 'example.chousei.dev/mirror-uid';
/** On each copy: namespace/name of that SecretMirror, for people and for mapping events. */
export const OWNER_ANNOTATION = 'example.chousei.dev/mirror';

export interface SecretMirrorOptions {
  /** SecretMirrors reconciled at once (never one in two workers). Default 4. */
  concurrency?: number;
}

// Secrets and Namespaces are watched metadata only: names, labels and resourceVersions are
// all the mapping and the ownership check need, and no Secret's data enters the cache. The
// one Secret whose data is needed, the source, is read from the API server when reconciling.
const SecretMetadata = resourceType<PartialObjectMetadata>('v1', 'Secret', 'secrets', true);
const NamespaceMetadata = resourceType<PartialObjectMetadata>(
  'v1',
  'Namespace',
  'namespaces',
  false,
);
const METADATA_ONLY = { metadataOnly: true };

const mirroredSecrets = gauge(
  'example_mirrored_secrets',
  'Copies of its source Secret each SecretMirror keeps',
  ['namespace', 'name'],
);

/** A namespace starting to terminate takes no new objects: it stops being a target. */
const terminating: Predicate = {
  update: (old, current) =>
    !old.metadata?.deletionTimestamp && !!current.metadata?.deletionTimestamp,
};

const requestFor = (obj: KubeObject): Request => ({
  namespace: obj.metadata?.namespace ?? '',
  name: obj.metadata?.name ?? '',
});

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Registers the secret-mirror controller with `manager`: each SecretMirror's source Secret
 * is copied (server-side apply) into the namespaces its selector picks, copies follow the
 * source, and copies go when their namespace stops being selected or the SecretMirror is
 * deleted. A Secret this operator did not create is never touched.
 */
export function setupSecretMirror(manager: Manager, opts: SecretMirrorOptions = {}): Controller {
  const { client } = manager;
  const events = manager.eventRecorder(OPERATOR);

  // The informers the controller watches (the cache shares one per kind and scope), with
  // the indexes its mappings look up.
  const mirrors = manager.cache.informer(
    SecretMirrors,
    {},
    { sourceName: (m) => [m.spec.sourceRef.name] },
  );
  const secrets = manager.cache.informer(SecretMetadata, METADATA_ONLY, {
    ownerUid: (s) => {
      const uid = s.metadata.labels?.[OWNER_LABEL];
      return uid ? [uid] : [];
    },
  });
  const namespaces = manager.cache.informer(NamespaceMetadata, METADATA_ONLY);

  // A Secret event matters to the SecretMirrors copying Secrets of that name: it may be a
  // source, a copy, or a Secret in the way of a copy. (A few extra reconciles are cheap.)
  const mirrorsOfSecret = (s: PartialObjectMetadata) =>
    mirrors.store.byIndex('sourceName', s.metadata.name ?? '').map(requestFor);

  // A namespace event matters to the SecretMirrors that select it now and to those holding
  // a copy in it (which may not select it any more).
  const mirrorsOfNamespace = (ns: PartialObjectMetadata) => [
    ...mirrors.store
      .list()
      .filter((m) => labelSelectorMatches(m.spec.namespaceSelector, ns.metadata.labels))
      .map(requestFor),
    ...secrets.store.byIndex('namespace', ns.metadata.name ?? '').flatMap((s) => {
      const owner = s.metadata.annotations?.[OWNER_ANNOTATION];
      return owner && s.metadata.labels?.[OWNER_LABEL] ? [parseObjectKey(owner)] : [];
    }),
  ];

  const isTarget = (mirror: SecretMirror, ns: PartialObjectMetadata) =>
    ns.metadata.name !== mirror.metadata?.namespace &&
    !ns.metadata.deletionTimestamp &&
    labelSelectorMatches(mirror.spec.namespaceSelector, ns.metadata.labels);

  const ownedCopies = (mirror: SecretMirror) =>
    secrets.store.byIndex('ownerUid', mirror.metadata?.uid ?? '');

  /** Deletes copies, each only if it is still the Secret we saw (same uid). */
  const deleteCopies = (copies: KubeObject[]) =>
    Promise.all(
      copies.map((s) =>
        client
          .delete(Secrets, requestFor(s), { preconditions: { uid: s.metadata?.uid ?? '' } })
          .catch(notFoundIsUndefined),
      ),
    );

  /** Writes status when it changed; keeps the gauge. */
  async function report(mirror: SecretMirror, mirroredTo: string[], ready: ConditionUpdate) {
    const generation = mirror.metadata?.generation;
    mirroredSecrets.set(requestFor(mirror), mirroredTo.length);
    const { conditions, changed } = setCondition(mirror.status?.conditions, {
      ...ready,
      observedGeneration: generation,
    });
    const unchanged =
      !changed &&
      mirror.status?.observedGeneration === generation &&
      (mirror.status?.mirroredTo ?? []).join() === mirroredTo.join();
    if (unchanged) return;
    await client.patchStatus(SecretMirrors, requestFor(mirror), {
      type: 'merge',
      patch: { status: { observedGeneration: generation, mirroredTo, conditions } },
    });
  }

  async function sync(m: SecretMirror, ctx: ReconcileContext): Promise<void> {
    const namespace = m.metadata?.namespace ?? '';
    const uid = m.metadata?.uid ?? '';
    const name = m.spec.sourceRef.name;
    const targets = namespaces.store
      .list()
      .filter((ns) => isTarget(m, ns))
      .map((ns) => ns.metadata.name ?? '')
      .sort();

    // Copies no longer wanted: their namespace left the selection, or the source was renamed.
    const wanted = new Set(targets.map((t) => `${t}/${name}`));
    const owned = ownedCopies(m);
    const stale = owned.filter((s) => !wanted.has(objectKey(s)));
    if (stale.length) {
      await deleteCopies(stale);
      const where = stale.map((s) => s.metadata.namespace).join(', ');
      events.event(m, 'Normal', 'Deleted', 'Prune', `deleted the copies in ${where}`);
      ctx.log.info({ namespaces: where }, 'deleted copies no longer selected');
    }

    const source = await client.get(Secrets, { namespace, name }).catch(notFoundIsUndefined);
    if (!source) {
      // Copies stay: workloads keep a working Secret while someone restores the source.
      const held = owned.filter((s) => wanted.has(objectKey(s)));
      const note = `Secret ${name} not found in namespace ${namespace}`;
      events.event(m, 'Warning', Reason.SourceNotFound, 'Mirror', note);
      return report(m, held.map((s) => s.metadata.namespace ?? '').sort(), {
        type: 'Ready',
        status: 'False',
        reason: Reason.SourceNotFound,
        message: note,
      });
    }

    const mirrored: string[] = [];
    const written: string[] = [];
    const conflicts: string[] = [];
    const failures: string[] = [];
    await Promise.all(
      targets.map(async (target) => {
        try {
          // The cache may not have seen a Secret that is there: ask the API server.
          const existing: KubeObject | undefined =
            secrets.store.get(`${target}/${name}`) ??
            (await client.get(Secrets, { namespace: target, name }).catch(notFoundIsUndefined));
          if (existing && existing.metadata?.labels?.[OWNER_LABEL] !== uid) {
            conflicts.push(target);
            return;
          }
          // Server-side apply: keys the source drops leave the copy, and our own copy is
          // forced back if someone edited it. A new copy is applied unforced under a field
          // manager of this SecretMirror's own, so a Secret made in the moment since the read
          // (by anyone, or another SecretMirror) keeps its values: the apply conflicts.
          const applied = await client.apply(Secrets, copyOf(source, m, target), {
            fieldManager: `${OPERATOR}/${uid}`,
            force: existing !== undefined,
          });
          mirrored.push(target);
          if (applied.metadata?.resourceVersion !== existing?.metadata?.resourceVersion)
            written.push(target);
        } catch (err) {
          failures.push(`${target}: ${message(err)}`);
        }
      }),
    );
    mirrored.sort();

    for (const target of conflicts.sort()) {
      events.event(
        m,
        'Warning',
        Reason.Conflict,
        'Mirror',
        `Secret ${target}/${name} exists and was not made by this SecretMirror: left untouched`,
      );
    }
    if (written.length) {
      const where = written.sort().join(', ');
      events.event(m, 'Normal', Reason.Mirrored, 'Mirror', `copied Secret ${name} to ${where}`);
      ctx.log.info(
        { namespaces: where, resourceVersion: source.metadata?.resourceVersion },
        'copied',
      );
    }
    if (failures.length) {
      events.event(m, 'Warning', Reason.Failed, 'Mirror', failures.join('; '));
    }

    await report(m, mirrored, readyCondition(name, targets, conflicts, failures));
    // Thrown after the status is written: the controller retries with backoff.
    if (failures.length) throw new Error(`copying Secret ${name} failed: ${failures.join('; ')}`);
  }

  async function cleanup(m: SecretMirror, ctx: ReconcileContext): Promise<void> {
    // Asked of the API server, not the cache: the finalizer must not come off while a copy
    // made a moment ago is still on its way into the cache.
    const copies = await client.list(Secrets, {
      labelSelector: `${OWNER_LABEL}=${m.metadata?.uid ?? ''}`,
    });
    await deleteCopies(copies);
    mirroredSecrets.remove(requestFor(m));
    if (copies.length) {
      const where = copies.map((s) => s.metadata?.namespace).join(', ');
      events.event(m, 'Normal', 'Deleted', 'Cleanup', `deleted the copies in ${where}`);
      ctx.log.info({ namespaces: where }, 'deleted all copies');
    }
  }

  return (
    manager
      .controller('secret-mirror')
      .withOptions({ maxConcurrentReconciles: opts.concurrency ?? 4 })
      // Status writes leave the generation as it is: they do not wake the controller again.
      .for(SecretMirrors, { predicates: [generationChanged] })
      .watches(SecretMetadata, mirrorsOfSecret, METADATA_ONLY)
      .watches(NamespaceMetadata, mirrorsOfNamespace, {
        ...METADATA_ONLY,
        predicates: [or(labelsChanged, terminating)],
      })
      .complete(async (req, ctx) => {
        const m = await manager.cache.get(SecretMirrors, req).catch(notFoundIsUndefined);
        if (!m) return; // gone: its finalizer saw its copies deleted first
        // Adds the finalizer before the first copy is made; on deletion runs cleanup, then
        // removes it.
        await finalize(client, SecretMirrors, m, FINALIZER, {
          apply: (current) => sync(current, ctx),
          cleanup: (current) => cleanup(current, ctx),
        });
      })
  );
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

function readyCondition(
  name: string,
  targets: string[],
  conflicts: string[],
  failures: string[],
): ConditionUpdate {
  if (conflicts.length) {
    return {
      type: 'Ready',
      status: 'False',
      reason: Reason.Conflict,
      message: `Secret ${name} already exists in ${conflicts.join(', ')} and was not made by this SecretMirror; delete it there to let the copy be made`,
    };
  }
  if (failures.length) {
    return { type: 'Ready', status: 'False', reason: Reason.Failed, message: failures.join('; ') };
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
