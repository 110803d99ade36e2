import type { Logger } from 'pino';
import type { Informer } from '../cache/informer.js';
import type { KubeObject, ObjectKey } from '../client/types.js';

/**
 * What an object controller reconciles: the name of an object, never the event that woke it
 * (level-based). Controllers of other things have their own request type (see RequestKind).
 */
export type Request = ObjectKey;

/** When to look again. Nothing: done until something changes. */
export interface Result {
  /** Reconcile this request again after this many milliseconds. */
  requeueAfter?: number;
}

export interface ReconcileContext {
  /** Aborted when the manager shuts down and the grace period for in-flight work is over. */
  signal: AbortSignal;
  /**
   * Aborted as soon as shutdown begins. A wait the next reconcile can take up again (a poll,
   * a backoff, a check for something outside) ends on it, so a replica hands over at once;
   * work that must not be cut (a write) keeps to `signal`.
   */
  stopping: AbortSignal;
  /** Carries controller, the request's fields (namespace, name) and reconcileID on every line. */
  log: Logger;
  reconcileID: string;
  controller: string;
}

/**
 * Observe, diff, act: read the current state of `request`, converge it, and say when to
 * look again. A thrown error retries with per-key exponential backoff; a TerminalError
 * does not retry until the request is queued again. (controller-runtime's TypedReconciler.)
 */
export interface Reconciler<Req = Request> {
  /** Told the controller's informers once its sources are bound, before any reconcile. */
  attach?(binding: ReconcilerBinding<Req>): void;
  /**
   * Whether an update of a primary object is the reconciler's own write (a status it
   * wrote): then it wakes nobody, as it holds nothing the reconciler does not know.
   */
  wroteItself?(old: KubeObject, current: KubeObject): boolean;
  // biome-ignore lint/suspicious/noConfusingVoidType: lets a reconciler with nothing to say be a plain async function
  reconcile(request: Req, ctx: ReconcileContext): Promise<Result | undefined | void>;
}

/** What a controller tells its reconciler once its sources are bound to a cache. */
export interface ReconcilerBinding<Req> {
  /** The informers of the controller's sources, in the order they were declared. */
  informers: Informer<KubeObject>[];
  /** Queues a reconcile, as an event would. */
  enqueue(request: Req): void;
}

export type ReconcileFunc<Req = Request> = Reconciler<Req>['reconcile'];

/** An error retrying cannot fix (e.g. invalid input): logged, counted, not retried. */
export class TerminalError extends Error {
  override name = 'TerminalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
