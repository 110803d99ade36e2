import type { StatusWriter } from '../client/client.js';
import type { ResourceType } from '../client/resource.js';
import { type KubeObject, keyOf } from '../client/types.js';
import { mergePatch } from '../util/json-patch.js';

/** What an object's `status` holds (`never` for a kind without one). */
export type StatusOf<T> = T extends { status?: infer S } ? S : never;

/**
 * Writes `status` as the status of `obj`, only when it differs from the status `obj`
 * has: a merge patch of the differences (members `status` lacks are removed), as
 * controller-runtime's `Status().Patch(MergeFrom(obj))`. Returns the object as stored
 * after the write, or undefined when nothing needed writing.
 */
export async function patchStatusIfChanged<T extends KubeObject>(
  client: Pick<StatusWriter, 'patchStatus'>,
  rt: ResourceType<T>,
  obj: T,
  status: StatusOf<T>,
): Promise<T | undefined> {
  const patch = mergePatch((obj as { status?: unknown }).status, status);
  if (patch === undefined) return undefined;
  return client.patchStatus(rt, keyOf(obj, `status of ${rt.kind}`), {
    type: 'merge',
    patch: { status: patch },
  });
}
