import type { IssuanceProgress } from '../issuance.js';

/**
 * Opens every message about a solver's own check of its answer (Issuing condition, Events),
 * so tools can tell "the operator is still checking" from "the CA is validating".
 */
export const selfCheckPrefix = (type: 'HTTP-01' | 'DNS-01') => `${type} self-check:`;
export const isSelfCheckMessage = (message: string): boolean =>
  /^(HTTP|DNS)-01 self-check:/.test(message);

/** One challenge to answer, as the issuer hands it to a solver. */
export interface Challenge {
  /**
   * The DNS name (or IP address) being validated, as in the ACME authorization: a wildcard
   * `*.example.com` is validated as `example.com`.
   */
  identifier: string;
  /** The challenge token: the HTTP-01 path segment. */
  token: string;
  /**
   * What to publish: the key authorization itself for HTTP-01, its SHA-256 digest
   * (base64url) for DNS-01 (acme-client's getChallengeKeyAuthorization computes both).
   */
  keyAuthorization: string;
  /** Aborts long waits inside present() (DNS propagation) when the issuance is cancelled. */
  signal?: AbortSignal;
  /** Aborted as the operator begins to stop: present() ends a wait it can start over. */
  stopping?: AbortSignal;
  /** Tells what a long wait inside present() is waiting for (a self-check's last result). */
  progress?: (report: IssuanceProgress) => void;
}

/**
 * Makes the ACME server's validation of one challenge type succeed. The issuer calls
 * present() before telling the server to validate, and cleanUp() afterwards whatever
 * happened, with the same challenge.
 */
export interface Solver {
  readonly type: 'http-01' | 'dns-01';
  /** Publishes the answer; returns once it is visible where the server will look. */
  present(ch: Challenge): Promise<void>;
  /** Withdraws the answer (and nothing else). Must tolerate a present() that failed. */
  cleanUp(ch: Challenge): Promise<void>;
}
