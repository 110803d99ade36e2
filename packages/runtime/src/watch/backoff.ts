export interface BackoffOptions {
  /** First delay, default 800 ms. */
  initialMs?: number;
  /** Cap, default 30 s. */
  maxMs?: number;
  /** Random spread added, as a fraction of the delay (default 0.5). */
  jitter?: number;
}

/** Capped exponential backoff with jitter: the delay before retry number `failures`. */
export function backoffDelay(failures: number, opts: BackoffOptions = {}): number {
  const initial = opts.initialMs ?? 800;
  const max = opts.maxMs ?? 30_000;
  const base = Math.min(max, initial * 2 ** Math.max(0, failures - 1));
  return Math.min(max, base * (1 + Math.random() * (opts.jitter ?? 0.5)));
}
