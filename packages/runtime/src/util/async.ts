/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when `signal` aborts (at once if it already has). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts: a caller
 * that gives up stops waiting for work others may still need (the work goes on).
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * The signal of work shared by several callers (one zone read, one batched call): it
 * aborts once every caller that joined has given up, and never if one joined without a
 * signal. `close()` once the work settled: a caller's signal often outlives the work (the
 * manager's, for the whole run), and a listener left on it would be one more per call.
 */
export class JointAbort {
  private readonly controller = new AbortController();
  private readonly listeners = new Map<AbortSignal, () => void>();
  private waiting = 0;
  private forever = false;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  join(signal?: AbortSignal): void {
    if (!signal) {
      this.forever = true;
      return;
    }
    if (signal.aborted) {
      this.check(signal);
      return;
    }
    if (this.listeners.has(signal)) return;
    this.waiting++;
    const onAbort = () => {
      this.listeners.delete(signal);
      this.waiting--;
      this.check(signal);
    };
    this.listeners.set(signal, onAbort);
    signal.addEventListener('abort', onAbort, { once: true });
  }

  /** Stops listening to the callers' signals. */
  close(): void {
    for (const [signal, onAbort] of this.listeners) signal.removeEventListener('abort', onAbort);
    this.listeners.clear();
  }

  private check(last: AbortSignal): void {
    if (!this.forever && this.waiting === 0) this.controller.abort(last.reason);
  }
}
