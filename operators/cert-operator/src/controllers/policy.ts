import { backoffDelay, type Secret } from '@chousei/runtime';
import { parseDuration } from '../api/duration.js';
import { ANNOTATION_ISSUER, ANNOTATION_ISSUER_KIND, type Certificate } from '../api/types.js';
import { defaultRenewalTime, normalizeIp, type PrivateKeySpec } from '../pki/index.js';
import { readSecret, type SecretContents } from './secret.js';

/** Why a Certificate needs (re)issuing now: cert-manager's reasons. */
export interface IssuanceNeed {
  reason:
    | 'DoesNotExist'
    | 'InvalidCertificate'
    | 'KeyMismatch'
    | 'SecretMismatch'
    | 'IncorrectKeyType'
    | 'IncorrectIssuer'
    | 'Renewing'
    | 'ManuallyTriggered';
  message: string;
}

/**
 * The Issuing condition reason that asks for a re-issuance, as cert-manager's `cmctl renew`
 * sets it (status True, through the status subresource). The operator issues even when the
 * Secret is fine and skips any backoff; writing Issuing False afterwards consumes the request.
 */
export const MANUAL_TRIGGER_REASON = 'ManuallyTriggered';

/** A manual renewal request pending on the Certificate, as an issuance need; else undefined. */
export function manualIssuanceRequest(cert: Certificate): IssuanceNeed | undefined {
  const issuing = cert.status?.conditions?.find((c) => c.type === 'Issuing');
  if (issuing?.status !== 'True' || issuing.reason !== MANUAL_TRIGGER_REASON) return undefined;
  return {
    reason: MANUAL_TRIGGER_REASON,
    message: issuing.message || 'Certificate re-issuance manually triggered',
  };
}

/** The key a Certificate asks for, with the defaults (ECDSA P-256). */
export function keySpec(cert: Certificate): PrivateKeySpec {
  const algorithm = cert.spec.privateKey?.algorithm ?? 'ECDSA';
  const size =
    cert.spec.privateKey?.size ??
    (algorithm === 'ECDSA' ? 256 : algorithm === 'RSA' ? 2048 : undefined);
  return size === undefined ? { algorithm } : { algorithm, size };
}

export function sameKeySpec(a: PrivateKeySpec, b: PrivateKeySpec): boolean {
  return a.algorithm === b.algorithm && (a.algorithm === 'Ed25519' || a.size === b.size);
}

const sorted = (xs: readonly string[] | undefined) =>
  [...(xs ?? [])]
    .map((x) => x.toLowerCase())
    .sort()
    .join(',');

/** When the issued certificate should be renewed: renewBefore, else a third of its life. */
export function renewalTime(cert: Certificate, notBefore: Date, notAfter: Date): Date {
  const before = cert.spec.renewBefore ? parseDuration(cert.spec.renewBefore) : undefined;
  return defaultRenewalTime(notBefore, notAfter, before);
}

/** renewalTime(), or the time the CA suggested (ACME Renewal Information) when earlier. */
export function renewalTimeWith(
  cert: Certificate,
  notBefore: Date,
  notAfter: Date,
  suggested: Date | undefined,
): Date {
  const policy = renewalTime(cert, notBefore, notAfter);
  return suggested && suggested.getTime() < policy.getTime() ? suggested : policy;
}

/**
 * When the issued certificate is due: renewalTime(), or earlier when the CA suggested so
 * (kept in status.renewalTime at issuance) for the spec as it is.
 */
export function renewalDue(cert: Certificate, notBefore: Date, notAfter: Date): Date {
  const status = cert.status;
  const suggested =
    status?.renewalTime && status.observedGeneration === cert.metadata?.generation
      ? new Date(status.renewalTime)
      : undefined;
  return renewalTimeWith(cert, notBefore, notAfter, suggested);
}

/**
 * The issuer a Secret's annotations name: the operator's, else cert-manager's for its own
 * issuer kinds (a Secret taken over was issued by the issuer of that name and kind, which
 * the migration converts under the same name).
 */
function secretIssuer(secret: Secret): { name?: string; kind: string } {
  const a = secret.metadata?.annotations ?? {};
  if (a[ANNOTATION_ISSUER] !== undefined)
    return { name: a[ANNOTATION_ISSUER], kind: a[ANNOTATION_ISSUER_KIND] ?? 'Issuer' };
  const group = a['cert-manager.io/issuer-group'];
  const name = group && group !== 'cert-manager.io' ? undefined : a['cert-manager.io/issuer-name'];
  return { ...(name ? { name } : {}), kind: a['cert-manager.io/issuer-kind'] ?? 'Issuer' };
}

/**
 * Compares the Secret with the spec: missing, unreadable, edited, for other names, another
 * key type or issuer, or due for renewal -> a reason to issue; else undefined.
 */
export function issuanceNeed(
  cert: Certificate,
  secret: Secret | undefined,
  now: Date,
): IssuanceNeed | undefined {
  return secretNeed(cert, secret, readSecret(cert.spec.secretName, secret), now);
}

/** issuanceNeed of the Secret as read already (`contents`). */
export function secretNeed(
  cert: Certificate,
  secret: Secret | undefined,
  contents: SecretContents,
  now: Date,
): IssuanceNeed | undefined {
  if ('unusable' in contents) return contents.unusable;
  const info = contents.certificate;
  if (!secret) return undefined;
  if (!info.keyMatches)
    return { reason: 'KeyMismatch', message: 'tls.key does not belong to tls.crt' };
  const spec = cert.spec;
  if (
    sorted(info.dnsNames) !== sorted(spec.dnsNames) ||
    sorted(info.ipAddresses) !== sorted((spec.ipAddresses ?? []).map(normalizeIp))
  ) {
    return {
      reason: 'SecretMismatch',
      message: `the certificate is for ${[...info.dnsNames, ...info.ipAddresses].join(', ') || '(no names)'}, the spec asks for ${[...(spec.dnsNames ?? []), ...(spec.ipAddresses ?? [])].join(', ')}`,
    };
  }
  if (spec.commonName && info.commonName !== spec.commonName) {
    return {
      reason: 'SecretMismatch',
      message: `the common name is ${info.commonName ?? '(none)'}, the spec asks for ${spec.commonName}`,
    };
  }
  // A spec naming no key type asks nothing of the key there (cert-manager's RSA 2048 in a
  // Secret taken over): the next issuance makes the default one.
  const want = keySpec(cert);
  const asked = spec.privateKey?.algorithm !== undefined || spec.privateKey?.size !== undefined;
  if (asked && !sameKeySpec(info.keyAlgorithm, want)) {
    return {
      reason: 'IncorrectKeyType',
      message: `the key is not ${want.algorithm}${want.size ? ` ${want.size}` : ''}`,
    };
  }
  const issuer = secretIssuer(secret);
  const kind = spec.issuerRef.kind ?? 'Issuer';
  if (issuer.name !== spec.issuerRef.name || issuer.kind !== kind) {
    return {
      reason: 'IncorrectIssuer',
      message: `the certificate was issued by ${issuer.kind} ${issuer.name ?? '(unknown)'}`,
    };
  }
  const renewAt = renewalDue(cert, new Date(info.notBefore), new Date(info.notAfter));
  if (renewAt.getTime() <= now.getTime()) {
    return { reason: 'Renewing', message: `renewal was due at ${renewAt.toISOString()}` };
  }
  return undefined;
}

export interface BackoffPolicy {
  /** First wait after a failure. Default 1 h. */
  initialMs: number;
  /** Longest wait. Default 32 h. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 3_600_000, maxMs: 32 * 3_600_000 };

/** Wait after `attempts` consecutive failures: initial, doubling, capped (as cert-manager's, no jitter). */
export function failureBackoff(attempts: number, policy: BackoffPolicy): number {
  return backoffDelay(attempts, { ...policy, jitter: 0 });
}

/**
 * When issuance may be tried again after the recorded failures; undefined when nothing
 * holds it back (no failure, or the spec changed since: a fix starts over). A server's
 * Retry-After is not kept in status: the operator may wait longer than this.
 */
export function retryTime(cert: Certificate, policy: BackoffPolicy): Date | undefined {
  const attempts = cert.status?.failedIssuanceAttempts ?? 0;
  const sameSpec = cert.status?.observedGeneration === cert.metadata?.generation;
  if (attempts <= 0 || !sameSpec || !cert.status?.lastFailureTime) return undefined;
  return new Date(
    new Date(cert.status.lastFailureTime).getTime() + failureBackoff(attempts, policy),
  );
}
