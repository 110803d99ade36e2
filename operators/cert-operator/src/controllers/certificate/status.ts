import {
  type ConditionUpdate,
  type EventRecorder,
  mergePatch,
  type ObjectResult,
  setCondition,
} from '@chousei/runtime';
import type { Certificate, CertificateStatus } from '../../api/types.js';

/** What reconciling a Certificate comes to: the status the runtime writes, when to look again. */
export type CertificateResult = ObjectResult<CertificateStatus>;

/** A reason the Certificate is not issued as it is, and what to do about it. */
export interface Refusal {
  reason: string;
  message: string;
}

/** The Ready condition for the Certificate's generation: it records which spec it judged. */
export function withCondition(
  status: CertificateStatus | undefined,
  cond: ConditionUpdate,
  cert: Certificate,
) {
  return setCondition(status?.conditions, {
    ...cond,
    observedGeneration: cert.metadata?.generation,
  }).conditions;
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Ready=False for a Certificate that is not issued as it is (bad spec, its Secret refused),
 * with a Warning Event when that changes. With `discarded` (the status an issuance just
 * made), the issuance is thrown away, which ends it: its ACME order and key with it.
 */
export function refused(
  cert: Certificate,
  refusal: Refusal,
  tell: { events: EventRecorder },
  discarded?: CertificateStatus,
): CertificateResult {
  const ready: ConditionUpdate = { type: 'Ready', status: 'False', ...refusal };
  const base = discarded ?? cert.status;
  const conditions = withCondition(base, ready, cert);
  const status: CertificateStatus = discarded
    ? {
        ...discarded,
        conditions: setCondition(conditions, { ...ready, type: 'Issuing' }).conditions,
        observedGeneration: cert.metadata?.generation,
        acmeOrder: undefined,
        nextPrivateKeySecretName: undefined,
      }
    : { ...cert.status, conditions };
  if (discarded || mergePatch(cert.status, status) !== undefined) {
    tell.events.event(cert, 'Warning', refusal.reason, 'Issue', refusal.message);
  }
  return { status };
}
