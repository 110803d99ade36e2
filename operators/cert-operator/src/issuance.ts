// What an issuance reports, from wherever it happens (an issuer, a solver's self-check): its
// failure and its progress. Below issuers/ and solvers/, which both speak of them.

/** What an issuance under way is waiting for, told while it waits (status and Events). */
export interface IssuanceProgress {
  /** What it is about (a DNS name): each subject's latest report replaces its previous one. */
  subject: string;
  /** Event reason, e.g. `SelfCheckPending`. */
  reason: string;
  message: string;
}

/** A failure with a reason for status conditions and Events (e.g. `OrderFailed`). */
export class IssuanceError extends Error {
  override name = 'IssuanceError';
  constructor(
    readonly reason: string,
    message: string,
    /** Retrying later may help (rate limited, CA down) vs the request itself is bad. */
    readonly retryable: boolean,
    /** The server asked us to wait at least this long (429 Retry-After). */
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
