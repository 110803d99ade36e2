import { counter, type EventRecorder, type ObjectContext, setCondition } from '@chousei/runtime';
import { DEFAULT_DURATION_MS, parseDuration } from '../../api/duration.js';
import type { Certificate, CertificateStatus, Issuer as IssuerResource } from '../../api/types.js';
import { IssuanceError } from '../../issuance.js';
import type { IssuedCertificate, Issuer } from '../../issuers/issuer.js';
import { createCsr, inspectCertificate } from '../../pki/index.js';
import type { CertificateMetrics } from '../certificate-metrics.js';
import {
  type BackoffPolicy,
  failureBackoff,
  type IssuanceNeed,
  MANUAL_TRIGGER_REASON,
  renewalTimeWith,
  type SecretContents,
} from '../policy.js';
import { tlsSecret } from '../secret.js';
import type { Admitted } from './gate.js';
import { SECRET_RECHECK_MS } from './gate.js';
import type { KeyManager, SigningKey } from './key-manager.js';
import { IssuanceStatus } from './progress.js';
import type { Readiness } from './readiness.js';
import type { SecretWriter } from './secret-writer.js';
import { type CertificateResult, refused, rfc3339, withCondition } from './status.js';

const issuances = counter(
  'chousei_cert_issuance_attempts_total',
  'Issuance attempts by issuer kind (Issuer or ClusterIssuer) and result',
  ['issuer_kind', 'result'],
);

/** What an issuance needs beside the Certificate: why, what it may use, the Secret as read. */
export interface IssuanceInput {
  need: IssuanceNeed;
  admitted: Admitted & { issuer: { resource: IssuerResource } };
  contents: SecretContents;
}

/**
 * Issues a Certificate (cert-manager's issuing): the next key, the order or signature, the
 * Secret written; a failure backs off exponentially, keeping an ACME order that may still
 * complete so that the next attempt (or a new leader) resumes it.
 */
export class Issuing {
  constructor(
    private readonly tell: { events: EventRecorder; metrics: CertificateMetrics },
    private readonly keys: KeyManager,
    private readonly secrets: SecretWriter,
    private readonly readiness: Readiness,
    private readonly issuerFor: (cert: Certificate, resource: IssuerResource) => Promise<Issuer>,
    private readonly backoff: BackoffPolicy,
  ) {}

  async issue(
    cert: Certificate,
    input: IssuanceInput,
    ctx: ObjectContext<Certificate>,
  ): Promise<CertificateResult> {
    const { need, admitted } = input;
    this.tell.events.event(
      cert,
      'Normal',
      'Issuing',
      'Issue',
      `Issuing certificate: ${need.message}`,
    );
    const status = new IssuanceStatus(cert, { ...cert.status }, need, ctx, this.tell.events);
    try {
      const issuer = await this.issuerFor(cert, admitted.issuer.resource);
      // Only an ACME order can outlive this reconcile: only then is the key kept in a Secret.
      const key = await this.keys.next(cert, admitted.secret, issuer.kind === 'ACME');
      const issued = await this.order(cert, input, issuer, key, status, ctx);
      // Before the final status: a late progress write would undo it.
      await status.close();
      return await this.store(cert, input, issuer, key, issued, status.current, ctx);
    } catch (err) {
      await status.close();
      // Cut short by a shutdown: not a failed issuance, the next leader goes on.
      if (ctx.signal.aborted || ctx.stopping.aborted) throw err;
      return this.failed(cert, err, status.current, admitted.issuer.kind, ctx);
    }
  }

  /** Signs, or places (or resumes) an ACME order and waits for it. */
  private async order(
    cert: Certificate,
    { need, contents }: IssuanceInput,
    issuer: Issuer,
    key: SigningKey,
    status: IssuanceStatus,
    ctx: ObjectContext<Certificate>,
  ): Promise<IssuedCertificate> {
    // Written with the ACME order it issues under, which is saved before any wait: one
    // status write instead of two. An issuer that signs at once needs none, as the Ready
    // status follows in this reconcile; the Issuing Event tells either way.
    const issuing: CertificateStatus = {
      conditions: setCondition(status.current.conditions, {
        type: 'Issuing',
        status: 'True',
        reason: need.reason,
        message: need.message,
      }).conditions,
      ...(key.storedIn ? { nextPrivateKeySecretName: key.storedIn } : {}),
    };
    // A resumed order is not saved again: the attempt says itself that it is issuing (the
    // status may still tell of the failed attempt before it).
    const resumed = cert.status?.acmeOrder;
    if (resumed) await status.write(issuing);
    const { spec } = cert;
    const names = {
      ...(spec.commonName ? { commonName: spec.commonName } : {}),
      dnsNames: spec.dnsNames ?? [],
      ipAddresses: spec.ipAddresses ?? [],
      ...(spec.isCA ? { isCA: true } : {}),
    };
    const renewing = need.reason === 'Renewing' || need.reason === MANUAL_TRIGGER_REASON;
    return issuer.issue(
      {
        certificate: `${cert.metadata?.namespace ?? ''}/${cert.metadata?.name}`,
        ...names,
        durationMs: (spec.duration && parseDuration(spec.duration)) || DEFAULT_DURATION_MS,
        // Unset: the signer picks the usages that fit the key type.
        usages: spec.usages ?? [],
        privateKeyPem: key.pem,
        csrPem: createCsr({ privateKeyPem: key.pem, ...names }),
        // Renewing, or asked for by hand: the Secret holds a sound certificate of this
        // issuer (the trigger checked), which the new one replaces.
        ...(renewing && contents.certPem ? { replaces: contents.certPem } : {}),
      },
      {
        signal: ctx.signal,
        stopping: ctx.stopping,
        log: ctx.log,
        ...(resumed ? { resume: { orderUrl: resumed.url } } : {}),
        save: async (state) => {
          if (state.orderUrl)
            await status.write({ ...issuing, acmeOrder: { url: state.orderUrl } });
        },
        progress: status.report,
      },
    );
  }

  /** Writes the Secret, drops the next key's, and makes the Certificate Ready. */
  private async store(
    cert: Certificate,
    { admitted }: IssuanceInput,
    issuer: Issuer,
    key: SigningKey,
    issued: IssuedCertificate,
    status: CertificateStatus,
    ctx: ObjectContext<Certificate>,
  ): Promise<CertificateResult> {
    const pems = {
      certificate: issued.certificatePem,
      key: key.pem,
      ...(issued.caPem ? { ca: issued.caPem } : {}),
    };
    const refusal = await this.secrets.write(cert, tlsSecret(cert, pems), admitted.known);
    await this.keys.used(cert, key);
    const kind = admitted.issuer.kind;
    if (refusal) {
      // Found in the way only now: the next attempts read the Secret first (IssuanceGate).
      issuances.inc({ issuer_kind: kind, result: 'failure' });
      ctx.log.warn({ reason: refusal.reason, secret: cert.spec.secretName }, refusal.message);
      return { ...refused(cert, refusal, this.tell, status), requeueAfter: SECRET_RECHECK_MS };
    }
    const info = inspectCertificate(issued.certificatePem);
    // The issuance asked for its renewal window already.
    if (issuer.renewalWindow) this.readiness.asked(cert, info);
    // As renewalDue() will read it back from the status: one write, no second opinion.
    const renewAt = renewalTimeWith(cert, info.notBefore, info.notAfter, issued.renewalTime);
    issuances.inc({ issuer_kind: kind, result: 'success' });
    ctx.log.info({ notAfter: info.notAfter, renewalTime: renewAt }, 'certificate issued');
    return this.readiness.issued(cert, status, info, renewAt);
  }

  /** Ready=False with the failure, and the next attempt after the backoff. */
  private failed(
    cert: Certificate,
    err: unknown,
    status: CertificateStatus,
    kind: string,
    ctx: ObjectContext<Certificate>,
  ): CertificateResult {
    const failure =
      err instanceof IssuanceError
        ? err
        : new IssuanceError('Failed', (err as Error).message, true, undefined, { cause: err });
    const sameSpec = cert.status?.observedGeneration === cert.metadata?.generation;
    const attempts = (sameSpec ? (cert.status?.failedIssuanceAttempts ?? 0) : 0) + 1;
    const wait = Math.max(failureBackoff(attempts, this.backoff), failure.retryAfterMs ?? 0);
    const ready = {
      type: 'Ready',
      status: 'False',
      reason: failure.reason,
      message: failure.message,
    } as const;
    const conditions = setCondition(withCondition(status, ready, cert), {
      type: 'Issuing',
      status: 'False',
      reason: 'Failed',
      message: `${failure.message}; retrying in ${Math.round(wait / 1000)} s`,
    }).conditions;
    // A failed order is not resumed; an unreachable server's order is, and one whose
    // challenges the CA was not asked to validate (a new order would count against limits).
    const keepOrder = ['ACMEServerUnreachable', 'RateLimited', 'SelfCheckTimeout'].includes(
      failure.reason,
    );
    issuances.inc({ issuer_kind: kind, result: 'failure' });
    this.tell.metrics.notReady(cert);
    this.tell.events.event(
      cert,
      'Warning',
      'Failed',
      'Issue',
      `${failure.reason}: ${failure.message}`,
    );
    ctx.log.warn(
      { reason: failure.reason, err: failure.message, attempts, retryInMs: wait },
      'issuance failed',
    );
    return {
      status: {
        ...status,
        conditions,
        observedGeneration: cert.metadata?.generation,
        failedIssuanceAttempts: attempts,
        lastFailureTime: rfc3339(new Date()),
        ...(keepOrder ? {} : { acmeOrder: undefined }),
      },
      requeueAfter: wait,
    };
  }
}
