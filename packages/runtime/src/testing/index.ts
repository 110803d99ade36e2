// Helpers for testing an operator against a real API server (e.g. @chousei/testenv):
// run its manager in the background, wait for the state of the world to converge.
import type { Reader } from '../client/client.js';
import { Events, type ResourceType } from '../client/resource.js';
import type { Event, KubeObject, ObjectKey } from '../client/types.js';
import type { Manager } from '../manager/manager.js';

export interface WaitOptions {
  /** Default 10 s. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
  /** Says what was awaited, for the timeout error. */
  description?: string;
}

/** Thrown when a wait times out; carries the last value seen or error thrown. */
export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(
    message: string,
    readonly last: unknown,
  ) {
    super(message);
  }
}

/** What a truthy check lets through. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Polls `probe` until it returns a truthy value, and returns that value. Errors thrown by
 * the probe (e.g. NotFound while the object does not exist yet) count as "not yet".
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<Truthy<T>> {
  const timeout = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as Truthy<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const what = opts.description ?? 'condition';
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new WaitTimeoutError(`${what} not met within ${timeout} ms (last: ${detail})`, last);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

interface WithConditions extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

/**
 * Waits until the object's status condition `type` has `status` (default "True"), and
 * `where` holds when given. A condition that already held before the change under test
 * (Ready through a renewal) says nothing: name the state the change brings with `where`.
 */
export function waitForCondition<T extends WithConditions>(
  client: Reader,
  rt: ResourceType<T>,
  key: ObjectKey,
  type: string,
  opts: WaitOptions & { status?: 'True' | 'False' | 'Unknown'; where?: (obj: T) => boolean } = {},
): Promise<T> {
  const want = opts.status ?? 'True';
  let status: T['status'];
  return waitFor(
    async () => {
      const obj = await client.get(rt, key);
      status = obj.status;
      const cond = obj.status?.conditions?.find((c) => c.type === type);
      return cond?.status === want && (opts.where?.(obj) ?? true) ? obj : undefined;
    },
    {
      description: `${rt.kind} ${key.namespace ?? ''}/${key.name} condition ${type}=${want}`,
      ...opts,
    },
  ).catch((err: unknown) => {
    // The status last read says what it waited on (an Issuing message, a backoff).
    if (!(err instanceof WaitTimeoutError) || !status) throw err;
    throw new WaitTimeoutError(
      `${err.message}; status last read: ${JSON.stringify(status)}`,
      err.last,
    );
  });
}

/** The object an Event is about: its kind, namespace and name. */
export interface EventSubject {
  kind: string;
  namespace: string;
  name: string;
}

/**
 * Waits until the Events about `regarding` include one that `where` accepts, and returns
 * them all. Recorders write Events in the background, after the state they tell of (a
 * Certificate's Issued Event follows its Ready status): a wait for that state does not wait
 * for its Event. Name the Event the change brings: one an earlier step made says nothing.
 */
export function waitForEvent(
  client: Reader,
  regarding: EventSubject,
  where: (event: Event) => boolean,
  opts: WaitOptions = {},
): Promise<Event[]> {
  const { kind, namespace, name } = regarding;
  return waitFor(
    async () => {
      const about = (await client.list(Events, { namespace })).filter(
        (e) => e.regarding?.kind === kind && e.regarding.name === name,
      );
      return about.some(where) && about;
    },
    { description: `an Event about ${kind} ${namespace}/${name}`, ...opts },
  );
}

/** A manager running in the background of a test. */
export interface RunningManager {
  /** Stops it as SIGTERM would and waits until it is done. */
  stop(): Promise<void>;
}

/**
 * Starts `manager` in the background and resolves once its caches have synced and, with
 * leader election, it leads. Call `stop()` in afterAll/afterEach.
 */
export async function startManager(
  manager: Manager,
  opts: WaitOptions = {},
): Promise<RunningManager> {
  const abort = new AbortController();
  let failure: unknown;
  const done = manager.start(abort.signal).catch((err: unknown) => {
    failure = err;
  });
  await waitFor(() => failure !== undefined || (manager.isLeader && manager.cache.synced), {
    description: 'manager started and synced',
    ...opts,
  });
  if (failure !== undefined) throw failure;
  return {
    stop: async () => {
      abort.abort();
      await done;
      if (failure) throw failure;
    },
  };
}

export {
  setGatewayAddresses,
  setListenerSetStatus,
  setRouteParents,
  TEST_GATEWAY_CONTROLLER,
} from './gateway-api.js';
