import type { Logger } from 'pino';
import type { ObjectKey } from '../client/types.js';

/** What to reconcile: the name of an object, never the event that woke us (level-based). */
export type Request = ObjectKey;

/** When to look again. Nothing: done until something changes. */
export interface Result {
  /** Reconcile this key again after this many milliseconds. */
  requeueAfter?: number;
}

export interface ReconcileContext {
  /** Aborted when the manager shuts down and the grace period for in-flight work is over. */
  signal: AbortSignal;
  /** Carries controller, namespace, name and reconcileID on every line. */
  log: Logger;
  reconcileID: string;
  controller: string;
}

/**
 * Observe, diff, act: read the current state of `request`, converge it, and say when to
 * look again. A thrown error retries with per-key exponential backoff; a TerminalError
 * does not retry until the object changes.
 */
export interface Reconciler {
  // biome-ignore lint/suspicious/noConfusingVoidType: lets a reconciler with nothing to say be a plain async function
  reconcile(request: Request, ctx: ReconcileContext): Promise<Result | undefined | void>;
}

export type ReconcileFunc = Reconciler['reconcile'];

/** An error retrying cannot fix (e.g. invalid input): logged, counted, not retried. */
export class TerminalError extends Error {
  override name = 'TerminalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
