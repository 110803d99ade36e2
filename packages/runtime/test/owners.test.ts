import { describe, expect, it } from 'vitest';
import { Namespaces, resourceType } from '../src/client/resource.js';
import type { ConfigMap, KubeObject, OwnerReference } from '../src/client/types.js';
import {
  controllerReference,
  getControllerOf,
  isControlledBy,
  OwnerReferenceError,
  setControllerReference,
} from '../src/helpers/owners.js';

const Widgets = resourceType('example.com/v1', 'Widget', 'widgets', true);

const owner: KubeObject = {
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'w', namespace: 'ns', uid: 'uid-w' },
};
const ownerRef: OwnerReference = {
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  name: 'w',
  uid: 'uid-w',
  controller: true,
  blockOwnerDeletion: true,
};
const child: ConfigMap = { metadata: { name: 'c', namespace: 'ns' }, data: { a: 'b' } };

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof OwnerReferenceError ? err.reason : `other: ${String(err)}`;
  }
  return 'no error';
}

describe('controllerReference', () => {
  it('builds a controlling, deletion-blocking reference from the object', () => {
    expect(controllerReference(owner)).toEqual(ownerRef);
  });

  it('takes apiVersion and kind from the resource type when the object lacks them', () => {
    const listItem = { metadata: { name: 'w', namespace: 'ns', uid: 'uid-w' } };
    expect(controllerReference(listItem, Widgets)).toEqual(ownerRef);
  });

  it('refuses an owner without uid (not created yet) or kind', () => {
    expect(reasonOf(() => controllerReference({ ...owner, metadata: { name: 'w' } }))).toBe(
      'InvalidOwner',
    );
    expect(() => controllerReference({ metadata: { name: 'w', uid: 'u' } })).toThrow(/kind/);
  });
});

describe('setControllerReference', () => {
  it('returns a copy with the controller reference, leaving the frozen input intact', () => {
    const input = deepFreeze(structuredClone(child));
    const out = setControllerReference(owner, input);
    expect(out.metadata?.ownerReferences).toEqual([ownerRef]);
    expect(out.data).toEqual({ a: 'b' });
    expect(input.metadata?.ownerReferences).toBeUndefined();
    expect(isControlledBy(out, owner)).toBe(true);
  });

  it('is idempotent for the same owner and keeps other owners', () => {
    const other: OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'uid-x' };
    const withOther = { ...child, metadata: { ...child.metadata, ownerReferences: [other] } };
    const once = setControllerReference(owner, withOther);
    const twice = setControllerReference(owner, once);
    expect(twice.metadata?.ownerReferences).toEqual([other, ownerRef]);
  });

  it('upgrades a plain reference to the same owner in place', () => {
    const plain: OwnerReference = { ...ownerRef, controller: undefined, blockOwnerDeletion: false };
    const other: OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'uid-x' };
    const obj = { ...child, metadata: { ...child.metadata, ownerReferences: [plain, other] } };
    expect(setControllerReference(owner, obj).metadata?.ownerReferences).toEqual([ownerRef, other]);
  });

  it('refuses when another object is already the controller', () => {
    const taken = setControllerReference(
      { ...owner, metadata: { name: 'v', namespace: 'ns', uid: 'uid-v' } },
      child,
    );
    expect(reasonOf(() => setControllerReference(owner, taken))).toBe('AlreadyOwned');
    expect(() => setControllerReference(owner, taken)).toThrow(/already controlled by Widget v/);
  });

  it('refuses a namespaced owner in another namespace', () => {
    const elsewhere = { ...child, metadata: { name: 'c', namespace: 'other' } };
    expect(reasonOf(() => setControllerReference(owner, elsewhere))).toBe('CrossNamespace');
  });

  it('refuses a namespaced owner of a cluster-scoped object', () => {
    const clusterScoped: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'n' },
    };
    expect(reasonOf(() => setControllerReference(owner, clusterScoped))).toBe('CrossNamespace');
  });

  it('allows a cluster-scoped owner of a namespaced object', () => {
    const ns: KubeObject = { metadata: { name: 'ns', uid: 'uid-ns' } };
    const out = setControllerReference(ns, child, Namespaces);
    expect(getControllerOf(out)).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      name: 'ns',
      uid: 'uid-ns',
      controller: true,
      blockOwnerDeletion: true,
    });
  });
});

describe('getControllerOf, isControlledBy', () => {
  it('finds only the reference marked controller', () => {
    const plain: OwnerReference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'uid-x' };
    const obj = { ...child, metadata: { ...child.metadata, ownerReferences: [plain] } };
    expect(getControllerOf(obj)).toBeUndefined();
    expect(isControlledBy(obj, { metadata: { uid: 'uid-x' } })).toBe(false);
    const controlled = setControllerReference(owner, obj);
    expect(getControllerOf(controlled)).toEqual(ownerRef);
  });

  it('matches by uid, so a recreated owner of the same name does not control it', () => {
    const controlled = setControllerReference(owner, child);
    expect(isControlledBy(controlled, owner)).toBe(true);
    const recreated = { ...owner, metadata: { ...owner.metadata, uid: 'uid-w2' } };
    expect(isControlledBy(controlled, recreated)).toBe(false);
    expect(isControlledBy(controlled, { metadata: { name: 'w' } })).toBe(false);
    expect(isControlledBy(child, owner)).toBe(false);
  });
});
