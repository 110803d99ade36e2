import {
  type Controller,
  generationChanged,
  type KubeObject,
  keyOf,
  labelSelectorMatches,
  labelsChanged,
  type Manager,
  or,
  type PartialObjectMetadata,
  type Predicate,
  parseObjectKey,
  resourceType,
} from '@chousei/runtime';
import { SecretMirrors } from './api/secretmirror.js';
import {
  type MirrorView,
  OPERATOR,
  OWNER_ANNOTATION,
  OWNER_LABEL,
  SecretMirrorReconciler,
} from './reconciler.js';

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

/** A namespace starting to terminate takes no new objects: it stops being a target. */
const terminating: Predicate = {
  update: (old, current) =>
    !old.metadata?.deletionTimestamp && !!current.metadata?.deletionTimestamp,
};

/**
 * Registers the secret-mirror controller with `manager`: each SecretMirror's source Secret
 * is copied (server-side apply) into the namespaces its selector picks, copies follow the
 * source, and copies go when their namespace stops being selected or the SecretMirror is
 * deleted. A Secret this operator did not create is never touched.
 *
 * 1. the informers (shared by kind and scope), with the indexes the mappings look up;
 * 2. the mappings: which SecretMirrors an event on a Secret or a Namespace concerns;
 * 3. the controller: its sources, and the reconciler the runtime hands each object to.
 */
export function setupSecretMirror(manager: Manager, opts: SecretMirrorOptions = {}): Controller {
  const mirrors = manager.cache.informer(
    SecretMirrors,
    {},
    { sourceName: (m) => [m.spec.sourceRef.name] },
  );
  const view: MirrorView = {
    secrets: manager.cache.informer(SecretMetadata, METADATA_ONLY, {
      ownerUid: (s) => {
        const uid = s.metadata.labels?.[OWNER_LABEL];
        return uid ? [uid] : [];
      },
    }),
    namespaces: manager.cache.informer(NamespaceMetadata, METADATA_ONLY),
  };

  // A Secret event matters to the SecretMirrors copying Secrets of that name: it may be a
  // source, a copy, or a Secret in the way of a copy. (A few extra reconciles are cheap.)
  const mirrorsOfSecret = (s: PartialObjectMetadata) =>
    mirrors.store.byIndex('sourceName', s.metadata.name ?? '').map((m) => keyOf(m));

  // A namespace event matters to the SecretMirrors that select it now and to those holding
  // a copy in it (which may not select it any more).
  const mirrorsOfNamespace = (ns: PartialObjectMetadata) => [
    ...mirrors.store
      .list()
      .filter((m) => labelSelectorMatches(m.spec.namespaceSelector, ns.metadata.labels))
      .map((m) => keyOf(m)),
    ...view.secrets.store.byIndex('namespace', ns.metadata.name ?? '').flatMap(copyOwner),
  ];

  return (
    manager
      .controller('secret-mirror')
      .withOptions({ maxConcurrentReconciles: opts.concurrency ?? 4 })
      // A new generation is a new spec; status writes, ours or not, wake nobody.
      .for(SecretMirrors, { predicates: [generationChanged] })
      .watches(SecretMetadata, mirrorsOfSecret, METADATA_ONLY)
      .watches(NamespaceMetadata, mirrorsOfNamespace, {
        ...METADATA_ONLY,
        predicates: [or(labelsChanged, terminating)],
      })
      .reconcileObjects(
        new SecretMirrorReconciler(manager.client, view, manager.eventRecorder(OPERATOR)),
      )
  );
}

/** The SecretMirror a copy belongs to, as its annotation names it. */
function copyOwner(s: KubeObject) {
  const owner = s.metadata?.annotations?.[OWNER_ANNOTATION];
  return owner && s.metadata?.labels?.[OWNER_LABEL] ? [parseObjectKey(owner)] : [];
}
