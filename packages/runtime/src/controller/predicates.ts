import type { KubeObject } from '../client/types.js';

/**
 * Filters events before they reach the queue. A missing method lets that kind of event
 * through.
 */
export interface Predicate<T extends KubeObject = KubeObject> {
  create?(obj: T): boolean;
  update?(old: T, current: T): boolean;
  delete?(obj: T): boolean;
}

type Kind = 'create' | 'update' | 'delete';

function test<T extends KubeObject>(p: Predicate<T>, kind: Kind, a: T, b?: T): boolean {
  if (kind === 'update') return p.update ? p.update(a, b!) : true;
  const fn = p[kind];
  return fn ? fn.call(p, a) : true;
}

/** Whether `predicates` (all of them) let this event through. */
export function admits<T extends KubeObject>(
  predicates: readonly Predicate<T>[],
  kind: Kind,
  a: T,
  b?: T,
): boolean {
  return predicates.every((p) => test(p, kind, a, b));
}

function sameRecord(a?: Record<string, string>, b?: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => a?.[k] === b?.[k]);
}

/** Updates that change metadata.generation (spec changes), ignoring status-only writes. */
export const generationChanged: Predicate = {
  update: (old, current) => old.metadata?.generation !== current.metadata?.generation,
};

/** Updates that change metadata.resourceVersion (drops resync no-ops). */
export const resourceVersionChanged: Predicate = {
  update: (old, current) => old.metadata?.resourceVersion !== current.metadata?.resourceVersion,
};

export const labelsChanged: Predicate = {
  update: (old, current) => !sameRecord(old.metadata?.labels, current.metadata?.labels),
};

export const annotationsChanged: Predicate = {
  update: (old, current) => !sameRecord(old.metadata?.annotations, current.metadata?.annotations),
};

/** Only objects matching `fn`, on every kind of event (an update passes if either side does). */
export function matching<T extends KubeObject>(fn: (obj: T) => boolean): Predicate<T> {
  return { create: fn, delete: fn, update: (old, current) => fn(old) || fn(current) };
}

export function and<T extends KubeObject>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.every((p) => test(p, 'create', o)),
    update: (a, b) => ps.every((p) => test(p, 'update', a, b)),
    delete: (o) => ps.every((p) => test(p, 'delete', o)),
  };
}

export function or<T extends KubeObject>(...ps: Predicate<T>[]): Predicate<T> {
  return {
    create: (o) => ps.some((p) => test(p, 'create', o)),
    update: (a, b) => ps.some((p) => test(p, 'update', a, b)),
    delete: (o) => ps.some((p) => test(p, 'delete', o)),
  };
}

export function not<T extends KubeObject>(p: Predicate<T>): Predicate<T> {
  return {
    create: (o) => !test(p, 'create', o),
    update: (a, b) => !test(p, 'update', a, b),
    delete: (o) => !test(p, 'delete', o),
  };
}
