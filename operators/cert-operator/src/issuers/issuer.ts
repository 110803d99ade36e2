import type { Logger } from '@chousei/runtime';

/** Key algorithms a Certificate may ask for. */
export type KeyAlgorithm = 'ECDSA' | 'RSA' | 'Ed25519';

export interface PrivateKeySpec {
  algorithm: KeyAlgorithm;
  /** ECDSA: 256 or 384; RSA: 2048, 3072 or 4096; ignored for Ed25519. */
  size?: number;
}

/** Extended/basic key usages, as cert-manager names them. */
export const KEY_USAGES = [
  'digital signature',
  'key encipherment',
  'server auth',
  'client auth',
  'cert sign',
  'crl sign',
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];

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
   * PEM of the certificate this one renews. ACME sends it as `replaces` (RFC 9773) when the
   * server serves renewal information: the CA ties the two (Let's Encrypt exempts such
   * renewals from rate limits).
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
}

/** Progress an issuer may persist so an interrupted issuance resumes (ACME: the order URL). */
export interface IssuanceState {
  orderUrl?: string;
}

/** What an issuance under way is waiting for, told while it waits (status and Events). */
export interface IssuanceProgress {
  /** What it is about (a DNS name): each subject's latest report replaces its previous one. */
  subject: string;
  /** Event reason, e.g. `SelfCheckPending`. */
  reason: string;
  message: string;
}

export interface IssueContext {
  signal: AbortSignal;
  log: Logger;
  /** State saved by an earlier, interrupted attempt for the same request. */
  resume?: IssuanceState;
  /** Persists state as soon as it exists (before waiting on anything). */
  save(state: IssuanceState): Promise<void>;
  /** Tells why the issuance is waiting; never throws, never waits. */
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
   * The window in which the CA suggests renewing `certificatePem` (leaf first): ACME Renewal
   * Information. Undefined when it says nothing; never throws.
   */
  renewalWindow?(certificatePem: string, log: Logger): Promise<RenewalWindow | undefined>;
}

/** When a CA suggests renewing a certificate (RFC 9773). */
export interface RenewalWindow {
  start: Date;
  end: Date;
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
