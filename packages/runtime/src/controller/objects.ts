import type { Informer } from '../cache/informer.js';
import { WriteExpectations } from '../cache/write-expectations.js';
import type { StatusWriter } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import type { ResourceType } from '../client/resource.js';
import { type KubeObject, type ObjectKey, objectKey, parseObjectKey } from '../client/types.js';
import {
  type FinalizerClient,
  finalize,
  hasFinalizer,
  removeFinalizer,
} from '../helpers/finalizers.js';
import { patchStatusIfChanged, type StatusOf } from '../helpers/status.js';
import { jsonEqual } from '../util/json-patch.js';
import type { ReconcileContext, Reconciler, ReconcilerBinding, Result } from './reconciler.js';

/**
 * What reconciling one object came to. Every member is optional: `{}` (or nothing) means
 * done until something changes.
 */
export interface ObjectResult<S> {
  /**
   * The whole status the object should have. The runtime writes it once, after the
   * reconcile, and only when it differs from the object's (members left out are removed);
   * unset: the status is left alone.
   */
  status?: S;
  /** Look at the object again after this many milliseconds. */
  requeueAfter?: number;
  /**
   * The reconcile failed: the status above is written first, then the request is retried
   * with backoff (a TerminalError: not retried until the object changes). Throwing does the
   * same without a status write.
   */
  error?: unknown;
}

/**
 * What an object reconciler is handed besides the object: the request's context, and a way
 * to queue the object again from work that outlives the reconcile.
 */
export interface ObjectContext extends ReconcileContext {
  /**
   * Queues a reconcile of this object, as a watch event would. For work the reconcile
   * starts and does not wait for (an ACME order under way): it calls this when it has
   * something to show, and the next reconcile returns the status that tells it. The status
   * is written by the runtime alone, once per reconcile.
   */
  enqueue(): void;
}

type Outcome<T extends KubeObject> =
  // biome-ignore lint/suspicious/noConfusingVoidType: lets a handler with nothing to say end without a return
  ObjectResult<StatusOf<T>> | undefined | void;

/**
 * An object controller's reconciler: the runtime reads the object from the cache, hands it
 * over, and writes the status the reconcile returns (kube-rs's `Controller::run` with its
 * `finalizer()`, controller-runtime's Reconciler without the boilerplate every reconcile
 * starts with: the get, the not-found, the finalizer, the status diff).
 */
export interface ObjectReconciler<T extends KubeObject> {
  /**
   * Converges `obj`, the object as cached (frozen: build the status as a new value). Never
   * called for an object being deleted; with a finalizer, only once it is on the object.
   */
  reconcile(obj: T, ctx: ObjectContext): Outcome<T> | Promise<Outcome<T>>;
  /**
   * A finalizer held on every object until `cleanup` releases what `reconcile` made outside
   * it (copies in other namespaces, a DNS record, a gauge series). The runtime adds it
   * before the first reconcile and removes it once cleanup returns without `error` or
   * `requeueAfter`; a throw or either of those keeps it, and the deletion waits.
   */
  finalizer?: {
    name: string;
    cleanup(obj: T, ctx: ObjectContext): Outcome<T> | Promise<Outcome<T>>;
    /**
     * Whether `obj` needs the finalizer now (default: every object does). One that does not
     * is reconciled without it, and one already on comes off through `cleanup` as at
     * deletion: an Ingress that claims no DNS name holds nothing up, and one that stops
     * claiming its names is released once their records are gone.
     */
    needed?(obj: T): boolean;
  };
  /**
   * Told of a request whose object the cache does not hold: deleted (after its finalizer,
   * if any, came off), or never made. For what is keyed by name outside the object.
   */
  deleted?(key: ObjectKey, ctx: ReconcileContext): void | Promise<void>;
}

/** What the object reconciler writes with: finalizers and the status subresource. */
export type ObjectClient = FinalizerClient & Pick<StatusWriter, 'patchStatus'>;

/** How long a write of ours may take to show in the cache before it is trusted again. */
const EXPECTATION_TIMEOUT_MS = 30_000;

/**
 * Runs an ObjectReconciler for the controller of `rt` (its primary kind, the source at
 * `primaryIndex`): the Reconciler a ControllerBuilder's `reconcileObjects` completes with.
 */
export class ObjectReconcile<T extends KubeObject> implements Reconciler<ObjectKey> {
  private informer: Informer<T> | undefined;
  private writes: WriteExpectations<T> | undefined;
  private enqueue: ((key: ObjectKey) => void) | undefined;
  /** Objects not reconciled because the cache missed a write of ours: queued once it shows. */
  private readonly deferred = new Set<string>();
  /** Status writes in flight, by object key. */
  private readonly writing = new Map<string, unknown>();

  constructor(
    private readonly client: ObjectClient,
    private readonly rt: ResourceType<T>,
    private readonly primaryIndex: number,
    private readonly handlers: ObjectReconciler<T>,
  ) {}

  /** Called by the Controller once its informers exist (before any reconcile). */
  attach(binding: ReconcilerBinding<ObjectKey>): void {
    const informer = binding.informers[this.primaryIndex] as unknown as Informer<T>;
    if (informer === this.informer) return;
    this.informer = informer;
    this.enqueue = (key) => binding.enqueue(key);
    // Our own writes (finalizer, status) are awaited in the cache before the object is
    // looked at again, and their arrival queues it, whatever the predicates say.
    this.writes = new WriteExpectations(informer, {
      timeoutMs: EXPECTATION_TIMEOUT_MS,
      onObserved: (key) => {
        if (this.deferred.delete(key)) binding.enqueue(parseObjectKey(key));
      },
    });
  }

  /**
   * The watch event of our own write: the version the write returned, or, when the event
   * comes before the write's answer, an update of nothing but the status to exactly the one
   * being written (whoever wrote that, it holds nothing new).
   */
  wroteItself(old: KubeObject, current: KubeObject): boolean {
    if (this.writes?.awaits(current as T)) return true;
    const writing = this.writing.get(objectKey(current));
    return (
      writing !== undefined &&
      jsonEqual((current as { status?: unknown }).status, writing) &&
      jsonEqual(withoutStatus(old), withoutStatus(current))
    );
  }

  async reconcile(request: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const { informer, writes, enqueue } = this;
    if (!informer || !writes || !enqueue) {
      throw new Error(`${this.rt.kind} reconciler used before attach`);
    }
    // The cached view may miss our last write: its watch event queues the object again
    // (or, should a relist skip that version, the expectation's timeout does).
    if (writes.pending(request)) {
      this.deferred.add(objectKey(request));
      return { requeueAfter: EXPECTATION_TIMEOUT_MS };
    }
    const obj = informer.store.get(objectKey(request));
    if (!obj) {
      await this.handlers.deleted?.(request, ctx);
      return undefined;
    }
    const objCtx: ObjectContext = { ...ctx, enqueue: () => enqueue(request) };
    const { current, outcome } = await this.converge(obj, objCtx);
    if (outcome?.status !== undefined) await this.writeStatus(current, outcome.status);
    if (outcome?.error !== undefined) throw outcome.error;
    return outcome?.requeueAfter !== undefined ? { requeueAfter: outcome.requeueAfter } : undefined;
  }

  /** Reconcile or cleanup, under the finalizer when there is one. */
  private async converge(
    obj: T,
    objCtx: ObjectContext,
  ): Promise<{ current: T; outcome: Outcome<T> }> {
    // The object as last written: the base of the status write's diff.
    let current = obj;
    const { finalizer } = this.handlers;
    if (!finalizer) {
      if (obj.metadata?.deletionTimestamp) return { current: obj, outcome: undefined };
      const outcome = await this.handlers.reconcile(obj, objCtx);
      return { current, outcome };
    }
    if (finalizer.needed && !obj.metadata?.deletionTimestamp && !finalizer.needed(obj)) {
      const { released, outcome } = await this.withoutFinalizer(obj, objCtx);
      return { current: released ?? obj, outcome };
    }
    const outcome = await finalize(this.client, this.rt, obj, finalizer.name, {
      apply: (stored) => {
        // The finalizer was just written: the status diff starts from the stored object.
        if (stored !== obj) this.writes?.wrote(stored);
        current = stored;
        return this.handlers.reconcile(stored, objCtx);
      },
      cleanup: (o) => finalizer.cleanup(o, objCtx),
      cleanupPending: (r) => r?.error !== undefined || r?.requeueAfter !== undefined,
    });
    return { current, outcome };
  }

  /**
   * An object that does not need the finalizer: reconciled, then released from one left on
   * it once cleanup is done (the status the reconcile returned, unless cleanup returns one).
   */
  private async withoutFinalizer(
    obj: T,
    ctx: ObjectContext,
  ): Promise<{ released?: T; outcome: Outcome<T> }> {
    const finalizer = this.handlers.finalizer!;
    const outcome = await this.handlers.reconcile(obj, ctx);
    if (!hasFinalizer(obj, finalizer.name) || outcome?.error !== undefined) return { outcome };
    const released = await finalizer.cleanup(obj, ctx);
    const both = { ...outcome, ...released };
    if (released?.error !== undefined || released?.requeueAfter !== undefined) {
      return { outcome: both };
    }
    try {
      const stored = await removeFinalizer(this.client, this.rt, obj, finalizer.name);
      this.writes?.wrote(stored);
      return { released: stored, outcome: both };
    } catch (err) {
      // Deleted meanwhile, its last finalizer gone: nothing is left to release.
      if (!isNotFound(err)) throw err;
      return { outcome: both };
    }
  }

  /** Writes the status when it changed; the object as stored then, if written. */
  private async writeStatus(obj: T, status: StatusOf<T>): Promise<T | undefined> {
    const key = objectKey(obj);
    this.writing.set(key, status);
    try {
      const written = await patchStatusIfChanged(this.client, this.rt, obj, status);
      if (written) this.writes?.wrote(written);
      return written;
    } catch (err) {
      // Gone meanwhile (its last finalizer came off): no status to keep.
      if (!isNotFound(err)) throw err;
      return undefined;
    } finally {
      this.writing.delete(key);
    }
  }
}

/** The object as a status write leaves it: all but the status and the resourceVersion. */
function withoutStatus(obj: KubeObject): unknown {
  const { status: _, ...rest } = obj as KubeObject & { status?: unknown };
  return { ...rest, metadata: { ...rest.metadata, resourceVersion: undefined } };
}
