import type { Reader, Writer } from './client.js';
import { isConflict } from './errors.js';
import type { ResourceType } from './resource.js';
import type { KubeObject, ObjectKey } from './types.js';

export interface RetryOptions {
  /** Attempts before the last Conflict is thrown, default 5. */
  attempts?: number;
  /** Write the status subresource instead of the object. */
  status?: boolean;
}

/**
 * Reads an object, lets `change` edit the fresh copy, and writes it back; when the write
 * conflicts with another writer it re-reads and tries again, so no update is lost.
 * `change` returns false when nothing needs writing.
 */
export async function updateWithRetry<T extends KubeObject>(
  client: Reader & Writer & { updateStatus: Writer['update'] },
  rt: ResourceType<T>,
  key: ObjectKey,
  change: (obj: T) => boolean | undefined | Promise<boolean | undefined>,
  opts: RetryOptions = {},
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const obj = await client.get(rt, key);
    if ((await change(obj)) === false) return obj;
    try {
      return opts.status ? await client.updateStatus(rt, obj) : await client.update(rt, obj);
    } catch (err) {
      if (!isConflict(err) || attempt >= attempts) throw err;
      // Jittered pause so competing writers do not collide again in lockstep.
      await new Promise((r) => setTimeout(r, 10 * 2 ** attempt * (0.5 + Math.random())));
    }
  }
}
