import type { JsonPatchOperation, Reader, Writer } from '../client/client.js';
import { isConflict, isNotFound } from '../client/errors.js';
import type { ResourceType } from '../client/resource.js';
import { type KubeObject, keyOf } from '../client/types.js';
import { withRetry } from '../util/backoff.js';

/** What the finalizer helpers need of a client: read the live object, patch it. */
export type FinalizerClient = Pick<Reader, 'get'> & Pick<Writer, 'patch'>;

/** Guarded writes that lose a race re-read and try again this many times in all. */
const ATTEMPTS = 10;

export function hasFinalizer(obj: KubeObject, name: string): boolean {
  return obj.metadata?.finalizers?.includes(name) ?? false;
}

/**
 * Adds `name` to the object's finalizers and returns the object as stored; returns `obj`
 * untouched when the finalizer is already there. The write is conditional on the object's
 * resourceVersion, so it never drops a finalizer another writer added meanwhile; a lost
 * race re-reads and tries again.
 */
export function addFinalizer<T extends KubeObject>(
  client: FinalizerClient,
  rt: ResourceType<T>,
  obj: T,
  name: string,
): Promise<T> {
  return writeFinalizers(client, rt, obj, (current) =>
    current.includes(name) ? undefined : [...current, name],
  );
}

/**
 * Removes `name` from the object's finalizers and returns the object as stored (when it
 * was the last finalizer of an object being deleted, that is its final state: the server
 * deletes it). Returns `obj` untouched when the finalizer is not there. Guarded like
 * addFinalizer.
 */
export function removeFinalizer<T extends KubeObject>(
  client: FinalizerClient,
  rt: ResourceType<T>,
  obj: T,
  name: string,
): Promise<T> {
  return writeFinalizers(client, rt, obj, (current) =>
    current.includes(name) ? current.filter((f) => f !== name) : undefined,
  );
}

async function writeFinalizers<T extends KubeObject>(
  client: FinalizerClient,
  rt: ResourceType<T>,
  obj: T,
  change: (current: readonly string[]) => string[] | undefined,
): Promise<T> {
  const key = keyOf(obj, `finalizer on ${rt.kind}`);
  // Without a resourceVersion there is nothing to guard the write with: start from the live object.
  let current = obj.metadata?.resourceVersion ? obj : await client.get(rt, key);
  let first = true;
  return withRetry(
    async () => {
      // A lost race re-reads the live object before trying again.
      if (!first) current = await client.get(rt, key);
      first = false;
      const next = change(current.metadata?.finalizers ?? []);
      if (!next) return current;
      // Setting resourceVersion makes it a precondition: a stale one is a 409 Conflict, as for
      // an update. (A `test` op would fail with an anonymous 422, indistinguishable from a
      // real validation error.) `add` of the whole list works whether or not the live object
      // has finalizers, so a stale view can only ever fail the precondition.
      const patch: JsonPatchOperation[] = [
        {
          op: 'replace',
          path: '/metadata/resourceVersion',
          value: current.metadata?.resourceVersion,
        },
        { op: 'add', path: '/metadata/finalizers', value: next },
      ];
      return await client.patch(rt, key, { type: 'json', patch });
    },
    {
      maxRetries: ATTEMPTS - 1,
      retryable: isConflict,
      // Jittered pause so competing writers do not collide again in lockstep: before retry n,
      // 5 * 2^n ms times 0.5-1.5, i.e. 5 * 2^(n-1) * (1 + 2 * random).
      backoff: { initialMs: 5, jitter: 2 },
    },
  );
}

export interface FinalizeHandlers<T extends KubeObject, R> {
  /** Converges the object; runs only once our finalizer is on it. */
  apply(obj: T): R | Promise<R>;
  /** Releases what apply set up; the finalizer comes off only after this resolves. */
  cleanup(obj: T): R | Promise<R>;
  /**
   * Whether what cleanup returned means it is not done yet (waiting for something to go):
   * the finalizer then stays, as when cleanup throws. Default: done once it resolves.
   */
  cleanupPending?(result: R): boolean;
}

/**
 * Runs `apply` or `cleanup` under finalizer `name`, like kube-rs's `finalizer()`:
 *
 * - being deleted with our finalizer: `cleanup`, then remove the finalizer so the deletion
 *   completes. If cleanup throws, the finalizer stays (the deletion stays blocked) and the
 *   error propagates, so the reconcile is retried.
 * - being deleted without our finalizer: nothing to do (cleanup already ran, or apply never
 *   did); returns undefined.
 * - otherwise: add the finalizer first, so nothing apply creates can outlive the object
 *   unnoticed, then `apply` on the object as stored.
 *
 * Returns what the handler returned.
 */
export async function finalize<T extends KubeObject, R>(
  client: FinalizerClient,
  rt: ResourceType<T>,
  obj: T,
  name: string,
  handlers: FinalizeHandlers<T, R>,
): Promise<R | undefined> {
  if (obj.metadata?.deletionTimestamp) {
    if (!hasFinalizer(obj, name)) return undefined;
    const result = await handlers.cleanup(obj);
    if (handlers.cleanupPending?.(result)) return result;
    try {
      await removeFinalizer(client, rt, obj, name);
    } catch (err) {
      // Gone already: someone else removed the last finalizer, which is what we wanted.
      if (!isNotFound(err)) throw err;
    }
    return result;
  }
  const current = await addFinalizer(client, rt, obj, name);
  return handlers.apply(current);
}
