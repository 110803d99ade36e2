import type { ResourceType } from '../client/resource.js';
import type { KubeObject, OwnerReference } from '../client/types.js';

/** An owner reference that cannot be set; `reason` says which rule refused it. */
export class OwnerReferenceError extends Error {
  override name = 'OwnerReferenceError';
  constructor(
    readonly reason: 'InvalidOwner' | 'AlreadyOwned' | 'CrossNamespace',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The OwnerReference that makes `owner` the controller of another object. apiVersion and
 * kind come from `rt` when given, else from the owner object itself (objects from list
 * responses of built-in kinds lack them, hence `rt`). blockOwnerDeletion makes a
 * foreground deletion of the owner wait for its dependents.
 */
export function controllerReference(owner: KubeObject, rt?: ResourceType): OwnerReference {
  const apiVersion = rt?.apiVersion ?? owner.apiVersion;
  const kind = rt?.kind ?? owner.kind;
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  const missing = [
    !apiVersion && 'apiVersion',
    !kind && 'kind',
    !name && 'metadata.name',
    !uid && 'metadata.uid',
  ].filter(Boolean);
  if (!apiVersion || !kind || !name || !uid) {
    throw new OwnerReferenceError(
      'InvalidOwner',
      `owner ${kind ?? '?'} ${name ?? '?'} has no ${missing.join(', ')} (is it created yet?)`,
    );
  }
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/** The owner reference marked controller: true, if any. */
export function getControllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((ref) => ref.controller === true);
}

/** Whether `owner` (matched by uid) is the controller of `obj`. */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && getControllerOf(obj)?.uid === uid;
}

/**
 * Returns a copy of `obj` with `owner` as its controller (a copy because objects from the
 * cache are frozen). An existing reference to the same owner (by uid) is replaced in place; others
 * are kept.
 * Throws OwnerReferenceError when another object already controls `obj` (two controllers
 * would fight over it), or when the owner is namespaced and `obj` is cluster-scoped or in
 * another namespace (the garbage collector ignores such references, or worse, deletes the
 * dependent because it cannot find the owner).
 */
export function setControllerReference<T extends KubeObject>(
  owner: KubeObject,
  obj: T,
  ownerRt?: ResourceType,
): T {
  const ref = controllerReference(owner, ownerRt);
  const ownerNs = owner.metadata?.namespace;
  const objNs = obj.metadata?.namespace;
  const what = `${obj.kind ?? 'object'} ${objNs ? `${objNs}/` : ''}${obj.metadata?.name ?? ''}`;
  if (ownerNs) {
    if (!objNs) {
      throw new OwnerReferenceError(
        'CrossNamespace',
        `${what}: cluster-scoped objects cannot have a namespaced owner (${ref.kind} ${ownerNs}/${ref.name})`,
      );
    }
    if (ownerNs !== objNs) {
      throw new OwnerReferenceError(
        'CrossNamespace',
        `${what}: cross-namespace owner references are not allowed (${ref.kind} ${ownerNs}/${ref.name})`,
      );
    }
  }
  const existing = getControllerOf(obj);
  if (existing && existing.uid !== ref.uid) {
    throw new OwnerReferenceError(
      'AlreadyOwned',
      `${what} is already controlled by ${existing.kind} ${existing.name} (uid ${existing.uid})`,
    );
  }
  const refs = obj.metadata?.ownerReferences ?? [];
  const ownerReferences = refs.some((r) => r.uid === ref.uid)
    ? refs.map((r) => (r.uid === ref.uid ? ref : r))
    : [...refs, ref];
  return { ...obj, metadata: { ...obj.metadata, ownerReferences } };
}
