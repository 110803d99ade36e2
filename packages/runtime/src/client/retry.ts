import { withRetry } from '../util/backoff.js';
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
  return withRetry(
    async () => {
      const obj = await client.get(rt, key);
      if ((await change(obj)) === false) return obj;
      return opts.status ? await client.updateStatus(rt, obj) : await client.update(rt, obj);
    },
    {
      maxRetries: (opts.attempts ?? 5) - 1,
      retryable: isConflict,
      // Jittered pause so competing writers do not collide again in lockstep: before retry n,
      // 10 * 2^n ms times 0.5-1.5, i.e. 10 * 2^(n-1) * (1 + 2 * random).
      backoff: { initialMs: 10, jitter: 2 },
    },
  );
}
