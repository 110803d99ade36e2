import type { Logger } from '@chousei/runtime';
import type { IssuanceProgress } from '../issuance.js';
import type { CertificateInfo, KeyUsage } from '../pki/index.js';

/** What to put in a certificate, independent of who signs it. */
export interface CertificateRequest {
  /** `namespace/name` of the Certificate, for logs and ACME order bookkeeping. */
  certificate: string;
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** Requested lifetime in milliseconds (issuers may cap it: ACME servers choose their own). */
  durationMs: number;
  usages: KeyUsage[];
  /** PKCS#8 PEM of the key to certify. */
  privateKeyPem: string;
  /** PEM CSR for that key with the names above (built by pki/csr.ts). */
  csrPem: string;
  /** Make a CA certificate (isCA). */
  isCA?: boolean;
  /**
   * The ARI certificate ID (RFC 9773, `ariCertId`) of the certificate this one renews. ACME
   * sends it as `replaces` when the server serves renewal information: the CA ties the two
   * (Let's Encrypt exempts such renewals from rate limits).
   */
  replaces?: string;
}

/** What an issuer hands back. */
export interface IssuedCertificate {
  /** PEM: the leaf first, then the chain. */
  certificatePem: string;
  /** PEM of the CA that anchors the chain, when known. */
  caPem?: string;
  /** When to renew, if the issuer says (ACME Renewal Information). */
  renewalTime?: Date;
  /** What the leaf says, as the issuer read it: parsed once per issuance. */
  info: CertificateInfo;
}

/** Progress an issuer may persist so an interrupted issuance resumes (ACME: the order URL). */
export interface IssuanceState {
  orderUrl?: string;
}

export interface IssueContext {
  signal: AbortSignal;
  /**
   * Aborted as soon as the operator begins to stop: a wait before anything is submitted (a
   * self-check) ends on it, so another replica leads at once and resumes the saved order;
   * a validation under way is seen through within the grace period.
   */
  stopping?: AbortSignal;
  log: Logger;
  /** State saved by an earlier, interrupted attempt for the same request. */
  resume?: IssuanceState;
  /**
   * Records state as soon as it exists (before waiting on anything): the controller keeps
   * it in the next status it writes, so a restart resumes it.
   */
  save(state: IssuanceState): Promise<void>;
  /** Records why the issuance is waiting, for the status and Events; never throws, never waits. */
  progress?: (report: IssuanceProgress) => void;
}

/**
 * Signs certificate requests: SelfSigned, CA, ACME. Throws IssuanceError for failures the
 * Certificate's status should report; anything else is retried with backoff.
 */
export interface Issuer {
  readonly kind: 'SelfSigned' | 'CA' | 'ACME';
  issue(req: CertificateRequest, ctx: IssueContext): Promise<IssuedCertificate>;
  /**
   * The window in which the CA suggests renewing the certificate of ARI certificate ID
   * `certId` (`ariCertId`): ACME Renewal Information. Undefined when it says nothing; never
   * throws.
   */
  renewalWindow?(certId: string, log: Logger): Promise<RenewalWindow | undefined>;
}

/** When a CA suggests renewing a certificate (RFC 9773). */
export interface RenewalWindow {
  start: Date;
  end: Date;
}
