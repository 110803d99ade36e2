import {
  type ConditionUpdate,
  type EventRecorder,
  isConditionTrue,
  type Logger,
  mergePatch,
  type Secret,
  setCondition,
} from '@chousei/runtime';
import type { Certificate, CertificateStatus, Issuer as IssuerResource } from '../../api/types.js';
import { renewalTimeIn } from '../../issuers/acme/index.js';
import type { Issuer } from '../../issuers/issuer.js';
import type { CertificateInfo } from '../../pki/index.js';
import { CLUSTER_ISSUERS_NOT_SERVED } from '../../scope.js';
import { renewalDue } from '../policy.js';
import type { RenewalInfoSchedule } from '../renewal-info.js';
import { type StoredCertificate, secretMetadataStale } from '../secret.js';
import type { IssuerRef } from './gate.js';
import type { SecretWriter } from './secret-writer.js';
import { type CertificateResult, rfc3339, withCondition } from './status.js';

const READY: ConditionUpdate = {
  type: 'Ready',
  status: 'True',
  reason: 'Ready',
  message: 'Certificate is up to date and has not expired',
};

/**
 * The Certificate's readiness: its conditions, its renewal time (moved into the window an
 * ACME CA suggests, asked again every interval).
 */
export class Readiness {
  constructor(
    private readonly events: EventRecorder,
    private readonly renewalInfo: RenewalInfoSchedule,
    private readonly secrets: SecretWriter,
    private readonly issuerFor: (cert: Certificate, resource: IssuerResource) => Promise<Issuer>,
  ) {}

  /** Nothing to issue: Ready, renewed at its time, the Secret's metadata mended. */
  async upToDate(
    cert: Certificate,
    { secret, certificate }: { secret: Secret; certificate: StoredCertificate },
    issuer: IssuerRef,
    log: Logger,
  ): Promise<CertificateResult> {
    if (secretMetadataStale(cert, secret) && (await this.secrets.mend(cert))) {
      log.info({ secret: cert.spec.secretName }, 'Secret labels and annotations updated');
    }
    const notBefore = new Date(certificate.notBefore);
    const notAfter = new Date(certificate.notAfter);
    const due = renewalDue(cert, notBefore, notAfter);
    const { renewAt, askIn } = await this.withRenewalInfo(cert, issuer, certificate, due, log);
    const conditions = withCondition(cert.status, READY, cert);
    const issuing = conditions.find((c) => c.type === 'Issuing');
    const status: CertificateStatus = {
      ...cert.status,
      // The one an issuance wrote ("Issued revision N") stays: rewording it would cost a
      // status write after every issuance.
      conditions:
        issuing?.status === 'False' && issuing.reason === 'Issued'
          ? conditions
          : setCondition(conditions, {
              type: 'Issuing',
              status: 'False',
              reason: 'Issued',
              message: 'nothing to issue',
            }).conditions,
      notBefore: rfc3339(notBefore),
      notAfter: rfc3339(notAfter),
      renewalTime: rfc3339(renewAt),
    };
    return {
      status,
      requeueAfter: Math.max(1000, Math.min(renewAt.getTime() - Date.now(), askIn)),
    };
  }

  /** An issuance is due, but the issuer is missing or not ready: Ready=False until it is. */
  issuerNotReady(cert: Certificate, issuer: IssuerRef): CertificateResult {
    const { resource, kind, notServed } = issuer;
    const name = cert.spec.issuerRef.name;
    const reason = resource ? 'IssuerNotReady' : 'IssuerNotFound';
    const message = resource
      ? `${kind} ${name} is not ready: ${readyMessage(resource)}`
      : notServed
        ? `ClusterIssuer ${name} not used: ${CLUSTER_ISSUERS_NOT_SERVED}; use an Issuer in ${cert.metadata?.namespace ?? ''}`
        : `${kind} ${name} not found`;
    const status: CertificateStatus = {
      ...cert.status,
      conditions: withCondition(
        cert.status,
        { type: 'Ready', status: 'False', reason, message },
        cert,
      ),
    };
    if (mergePatch(cert.status, status) !== undefined) {
      this.events.event(cert, 'Warning', reason, 'Issue', message);
    }
    // Issuer events requeue this Certificate; the timer is a safety net. Not served: only
    // a spec change helps, and it comes as an event.
    return notServed ? { status } : { status, requeueAfter: 60_000 };
  }

  /** Issued: Ready, the next revision, renewed at the time the issuer (or the policy) says. */
  issued(
    cert: Certificate,
    status: CertificateStatus,
    info: CertificateInfo,
    renewalTime: Date,
  ): CertificateResult {
    const revision = (cert.status?.revision ?? 0) + 1;
    const conditions = setCondition(withCondition(status, READY, cert), {
      type: 'Issuing',
      status: 'False',
      reason: 'Issued',
      message: `Issued revision ${revision}`,
    }).conditions;
    const notAfter = rfc3339(info.notAfter);
    this.events.event(
      cert,
      'Normal',
      'Issued',
      'Issue',
      `Certificate issued, valid until ${notAfter}`,
    );
    return {
      status: {
        ...status,
        conditions,
        observedGeneration: cert.metadata?.generation,
        notBefore: rfc3339(info.notBefore),
        notAfter,
        renewalTime: rfc3339(renewalTime),
        revision,
        failedIssuanceAttempts: undefined,
        lastFailureTime: undefined,
        acmeOrder: undefined,
        nextPrivateKeySecretName: undefined,
      },
      requeueAfter: Math.max(1000, renewalTime.getTime() - Date.now()),
    };
  }

  /** An issuance asked the CA for the new certificate's renewal window already. */
  asked(cert: Certificate, renewalInfoId: string): void {
    this.renewalInfo.asked(cert.metadata?.uid ?? '', renewalInfoId);
  }

  /**
   * An ACME CA may move its suggested renewal window forward after issuance (it must revoke):
   * asked again every interval. The renewal time, moved into the window when that now ends
   * before it, and the ms until the CA is asked again.
   */
  private async withRenewalInfo(
    cert: Certificate,
    { resource }: IssuerRef,
    { renewalInfoId: id }: StoredCertificate,
    renewAt: Date,
    log: Logger,
  ): Promise<{ renewAt: Date; askIn: number }> {
    const acme = resource?.spec.acme && isConditionTrue(resource.status?.conditions, 'Ready');
    if (!acme || !id) return { renewAt, askIn: Number.POSITIVE_INFINITY };
    const uid = cert.metadata?.uid ?? '';
    const askIn = this.renewalInfo.dueIn(uid, id);
    if (askIn > 0) return { renewAt, askIn };
    const window = await this.issuerFor(cert, resource).then(
      (issuer) => issuer.renewalWindow?.(id, log),
      (err: unknown) => {
        log.info({ err: (err as Error).message }, 'renewal information not asked');
        return undefined;
      },
    );
    this.renewalInfo.asked(uid, id);
    // Before or within the window (our own policy may come first): as the CA would have it.
    if (!window || renewAt.getTime() <= window.end.getTime()) {
      return { renewAt, askIn: this.renewalInfo.intervalMs };
    }
    const suggested = renewalTimeIn(window);
    const message = `the CA suggests renewing between ${window.start.toISOString()} and ${window.end.toISOString()}, before ${renewAt.toISOString()} (ACME Renewal Information); renewing at ${suggested.toISOString()}`;
    this.events.event(cert, 'Normal', 'RenewalSuggested', 'Renew', message);
    log.info({ renewalTime: suggested, was: renewAt }, message);
    return { renewAt: suggested, askIn: this.renewalInfo.intervalMs };
  }
}

function readyMessage(obj: IssuerResource): string {
  return (
    obj.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? 'no Ready condition yet'
  );
}
