/**
 * Which Secret a Certificate may write. The operator writes (and deletes) only Secrets it
 * marked, with the label cert.chousei.dev/managed (the only Secrets it caches), or a new one;
 * an existing Secret without the mark only once handed to the Certificate by annotation. Of
 * several Certificates naming one Secret, the oldest keeps it.
 */
import type { Secret } from '@chousei/runtime';
import { ANNOTATION_CERTIFICATE, type Certificate, LABEL_MANAGED } from '../api/types.js';
import type { IssuanceNeed } from './policy.js';
import { SECRET_IN_USE_REASON, type SECRET_READ_REFUSALS } from './refusals.js';

/**
 * What cert-manager writes on the Secrets it issues into, naming their Certificate: a Secret
 * it wrote for a Certificate of the same name (and so namespace) is handed over by it.
 */
export const ANNOTATION_CERT_MANAGER_CERTIFICATE = 'cert-manager.io/certificate-name';
const TLS_TYPE = 'kubernetes.io/tls';

/** Why a Certificate does not write its Secret: the Ready=False reason, and what to do. */
export interface SecretRefusal {
  reason: typeof SECRET_IN_USE_REASON | (typeof SECRET_READ_REFUSALS)[number];
  message: string;
}

/** The Certificate that keeps a Secret several name: the oldest, then the first by name. */
export function secretHolder(claimants: readonly Certificate[]): Certificate | undefined {
  // RFC 3339 in UTC to the second: the strings sort as the times do.
  const before = (a: Certificate, b: Certificate) => {
    const [at, bt] = [a.metadata?.creationTimestamp ?? '', b.metadata?.creationTimestamp ?? ''];
    return at !== bt ? at < bt : (a.metadata?.name ?? '') < (b.metadata?.name ?? '');
  };
  return claimants.reduce<Certificate | undefined>(
    (h, c) => (!h || before(c, h) ? c : h),
    undefined,
  );
}

/** Refused when the Secret's holder is another Certificate. */
export function inUseRefusal(cert: Certificate, holder: Certificate): SecretRefusal | undefined {
  const name = holder.metadata?.name;
  if (name === cert.metadata?.name) return undefined;
  return {
    reason: SECRET_IN_USE_REASON,
    message: `Secret ${cert.spec.secretName} is kept by Certificate ${name}, the oldest Certificate naming it; name another Secret, or delete Certificate ${name}`,
  };
}

/**
 * Why `cert` may not write `secret`, the existing Secret of its secretName; undefined when
 * it may: a TLS Secret the operator marked, or one whose annotation names this Certificate
 * (`cert.chousei.dev/certificate-name`, or cert-manager's `cert-manager.io/certificate-name`).
 */
export function secretRefusal(cert: Certificate, secret: Secret): SecretRefusal | undefined {
  const name = cert.spec.secretName;
  const type = secret.type || 'Opaque';
  if (type !== TLS_TYPE) {
    return {
      reason: 'SecretTypeMismatch',
      message: `Secret ${name} is of type ${type}, not ${TLS_TYPE}: nothing is issued into it; name another Secret`,
    };
  }
  if (secret.metadata?.labels?.[LABEL_MANAGED] === 'true') return undefined;
  const certificate = cert.metadata?.name;
  const annotations = secret.metadata?.annotations ?? {};
  if (
    annotations[ANNOTATION_CERTIFICATE] === certificate ||
    annotations[ANNOTATION_CERT_MANAGER_CERTIFICATE] === certificate
  ) {
    return undefined;
  }
  return {
    reason: 'SecretNotOwned',
    message: `Secret ${name} exists and is not this operator's (no label ${LABEL_MANAGED}): annotate it ${ANNOTATION_CERTIFICATE}=${certificate} to hand it to this Certificate, or name another Secret`,
  };
}

/**
 * Why a Certificate whose Secret the operator has not seen is issued: its cache holds only the
 * Secrets it marked, so that Secret may be absent or another's (the write tells which).
 */
export function unseenSecretNeed(cert: Certificate): IssuanceNeed {
  return {
    reason: 'DoesNotExist',
    message: `no Secret ${cert.spec.secretName} of this operator's (none of that name, or not labelled ${LABEL_MANAGED})`,
  };
}

/** Whether `secret` is the Secret keeping the key of `cert`'s issuance in progress. */
export function isNextKeySecretOf(cert: Certificate, secret: Secret | undefined): boolean {
  return (
    secret?.type === 'Opaque' &&
    secret.metadata?.annotations?.[ANNOTATION_CERTIFICATE] === cert.metadata?.name
  );
}
