import {
  counter,
  type EventRecorder,
  mergePatch,
  type ObjectContext,
  type ObjectKey,
  setCondition,
} from '@chousei/runtime';
import { DEFAULT_DURATION_MS, parseDuration } from '../../api/duration.js';
import type { Certificate, CertificateStatus, Issuer as IssuerResource } from '../../api/types.js';
import { IssuanceError } from '../../issuance.js';
import { ariCertIdOfInfo } from '../../issuers/acme/index.js';
import type { CertificateRequest, IssuedCertificate, Issuer } from '../../issuers/issuer.js';
import { createCsr } from '../../pki/index.js';
import {
  type BackoffPolicy,
  failureBackoff,
  MANUAL_TRIGGER_REASON,
  renewalTimeWith,
} from '../policy.js';
import { Attempts, IssuanceAttempt, type IssuanceInput } from './attempt.js';
import { type IssuerRef, SECRET_RECHECK_MS } from './gate.js';
import type { KeyManager, SigningKey } from './key-manager.js';
import type { Readiness } from './readiness.js';
import type { SecretWriter } from './secret-writer.js';
import { type CertificateResult, refused, rfc3339, withCondition } from './status.js';

/** How soon a Certificate waiting for a turn looks again, should the word it is free be lost. */
const TURN_RECHECK_MS = 30_000;

const issuances = counter(
  'chousei_cert_issuance_attempts_total',
  'Issuance attempts by issuer kind (Issuer or ClusterIssuer) and result',
  ['issuer_kind', 'result'],
);

/**
 * Issues a Certificate (cert-manager's issuing): the next key, the signature or ACME order,
 * the Secret written. A CA or SelfSigned issuer signs within the reconcile; an ACME order
 * runs beside the reconciles (an IssuanceAttempt), each of which tells from it what the
 * order waits for, until one takes its end. A failure backs off exponentially, keeping an
 * ACME order that may still complete so that the next attempt (or a new leader) resumes it.
 */
export class Issuing {
  private readonly attempts: Attempts;

  constructor(
    private readonly tell: { events: EventRecorder },
    private readonly keys: KeyManager,
    private readonly secrets: SecretWriter,
    private readonly readiness: Readiness,
    private readonly issuerFor: (cert: Certificate, resource: IssuerResource) => Promise<Issuer>,
    private readonly backoff: BackoffPolicy,
    /** ACME orders worked on at once. */
    concurrency: number,
  ) {
    this.attempts = new Attempts(concurrency);
  }

  /**
   * The ACME order under way for `cert`, once it has something new to show: the status that
   * tells what it waits for, or, once it has ended, the Secret written and the status that
   * ends it. Undefined: none under way (one for a spec edited since is stopped first).
   */
  async underWay(cert: Certificate, ctx: ObjectContext): Promise<CertificateResult | undefined> {
    const attempt = this.attempts.of(cert);
    if (!attempt) return undefined;
    if (!attempt.issuesFor(cert)) {
      await this.attempts.stop(cert, 'the Certificate changed');
      return undefined;
    }
    return this.follow(cert, attempt, ctx);
  }

  /**
   * A first issuance from an ACME issuer while every turn is taken: it waits in line, told
   * when one is free, before anything is read for it (a first issuance reads its Secret from
   * the API). Undefined: it goes on.
   */
  waitingTurn(
    cert: Certificate,
    issuer: IssuerRef,
    ctx: ObjectContext,
  ): CertificateResult | undefined {
    const first = cert.status?.revision === undefined;
    if (!first || !issuer.resource?.spec.acme || this.attempts.open(cert)) return undefined;
    this.attempts.line(cert, ctx.enqueue);
    return { requeueAfter: TURN_RECHECK_MS };
  }

  /**
   * Starts issuing `cert`: signed now, or an ACME order placed (or resumed) and followed,
   * once a turn is free.
   */
  async issue(
    cert: Certificate,
    input: IssuanceInput,
    ctx: ObjectContext,
  ): Promise<CertificateResult> {
    const { need, admitted } = input;
    // Only an ACME order outlives the reconcile: only then is the key kept in a Secret.
    const outlives = admitted.issuer.resource.spec.acme !== undefined;
    // Told when a turn is free; the look later only covers word of it lost meanwhile.
    if (outlives && !this.attempts.claim(cert, ctx.enqueue)) {
      return { requeueAfter: TURN_RECHECK_MS };
    }
    let claimed = outlives;
    const { events } = this.tell;
    events.event(cert, 'Normal', 'Issuing', 'Issue', `Issuing certificate: ${need.message}`);
    try {
      const issuer = await this.issuerFor(cert, admitted.issuer.resource);
      const key = await this.keys.next(cert, outlives);
      const req = request(cert, input, key);
      // Signed within this reconcile: nothing to queue it again for.
      const enqueue = outlives ? ctx.enqueue : () => {};
      const attempt = new IssuanceAttempt(cert, input, issuer, key, req, {
        ...ctx,
        events,
        enqueue,
      });
      if (!outlives) {
        await attempt.done;
        return await this.ended(cert, attempt, ctx);
      }
      this.attempts.add(attempt);
      claimed = false;
      return await this.follow(cert, attempt, ctx);
    } catch (err) {
      if (claimed) this.attempts.release();
      // Cut short by a shutdown: not a failed issuance, the next leader goes on.
      if (ctx.signal.aborted || ctx.stopping.aborted) throw err;
      return this.failed(cert, err, { ...cert.status }, admitted.issuer.kind, ctx);
    }
  }

  /**
   * Waits until `attempt` has something to show that the status does not: then the status
   * telling it, and the next reconcile queued to follow on; or its end. Once the operator is
   * stopping, only its end: an order whose validation is under way is seen through, and
   * the reconcile that ends it writes the Secret and the Ready status before the exit.
   */
  private async follow(
    cert: Certificate,
    attempt: IssuanceAttempt,
    ctx: ObjectContext,
  ): Promise<CertificateResult> {
    for (;;) {
      if (attempt.outcome) {
        try {
          return await this.ended(cert, attempt, ctx);
        } finally {
          this.attempts.forget(cert);
        }
      }
      const status = attempt.status(cert);
      const news = status !== undefined && mergePatch(cert.status, status) !== undefined;
      if (news && !ctx.stopping.aborted) {
        // The next reconcile follows it on.
        ctx.enqueue();
        return { status };
      }
      // Edited or deleted meanwhile: the event queued the reconcile that sees to it.
      if ((await attempt.change()) === 'object') return {};
    }
  }

  /** Stops `cert`'s ACME order under way, if any, and waits for its clean-up. */
  stop(cert: Certificate | ObjectKey, reason: string): Promise<void> {
    return this.attempts.stop(cert, reason);
  }

  /** `cert` was edited or deleted: a reconcile waiting on its order lets go at once. */
  interrupt(cert: Certificate): void {
    this.attempts.interrupt(cert);
  }

  /** Resolves once every ACME order under way has ended (at shutdown). */
  settled(): Promise<void> {
    return this.attempts.settled();
  }

  /** The Secret written and the Certificate Ready, or the failure told and backed off. */
  private async ended(
    cert: Certificate,
    attempt: IssuanceAttempt,
    ctx: ObjectContext,
  ): Promise<CertificateResult> {
    const { input, issuer, key, outcome } = attempt;
    // As the attempt told it, or as it was (nothing told: signed at once, or failed early).
    const status = attempt.status(cert) ?? { ...cert.status };
    if (outcome && 'issued' in outcome) {
      return this.store(cert, input, issuer, key, outcome.issued, status, ctx);
    }
    const error = outcome?.error;
    if (ctx.signal.aborted || ctx.stopping.aborted) throw error;
    return this.failed(cert, error, status, input.admitted.issuer.kind, ctx);
  }

  /** Writes the Secret, drops the next key's, and makes the Certificate Ready. */
  private async store(
    cert: Certificate,
    { admitted }: IssuanceInput,
    issuer: Issuer,
    key: SigningKey,
    issued: IssuedCertificate,
    status: CertificateStatus,
    ctx: ObjectContext,
  ): Promise<CertificateResult> {
    const pems = {
      certificate: issued.certificatePem,
      key: key.pem,
      ...(issued.caPem ? { ca: issued.caPem } : {}),
    };
    const { info } = issued;
    const refusal = await this.secrets.write(cert, { pems, info }, admitted.known);
    await this.keys.used(cert, key);
    const kind = admitted.issuer.kind;
    if (refusal) {
      // Found in the way only now: the next attempts read the Secret first (IssuanceGate).
      issuances.inc({ issuer_kind: kind, result: 'failure' });
      ctx.log.warn({ reason: refusal.reason, secret: cert.spec.secretName }, refusal.message);
      return { ...refused(cert, refusal, this.tell, status), requeueAfter: SECRET_RECHECK_MS };
    }
    // The issuance asked for its renewal window already.
    const renewalInfoId = issuer.renewalWindow && ariCertIdOfInfo(info);
    if (renewalInfoId) this.readiness.asked(cert, renewalInfoId);
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
    ctx: ObjectContext,
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

/** What to certify: `cert`'s names and key, for as long as its spec asks. */
function request(
  cert: Certificate,
  { need, contents }: IssuanceInput,
  key: SigningKey,
): CertificateRequest {
  const { spec } = cert;
  const names = {
    ...(spec.commonName ? { commonName: spec.commonName } : {}),
    dnsNames: spec.dnsNames ?? [],
    ipAddresses: spec.ipAddresses ?? [],
    ...(spec.isCA ? { isCA: true } : {}),
  };
  const renewing = need.reason === 'Renewing' || need.reason === MANUAL_TRIGGER_REASON;
  return {
    certificate: `${cert.metadata?.namespace ?? ''}/${cert.metadata?.name}`,
    ...names,
    durationMs: (spec.duration && parseDuration(spec.duration)) || DEFAULT_DURATION_MS,
    // Unset: the signer picks the usages that fit the key type.
    usages: spec.usages ?? [],
    privateKeyPem: key.pem,
    csrPem: createCsr({ privateKeyPem: key.pem, ...names }),
    // Renewing, or asked for by hand: the Secret holds a sound certificate of this issuer
    // (the trigger checked), which the new one replaces.
    ...(renewing && 'certificate' in contents && contents.certificate.renewalInfoId
      ? { replaces: contents.certificate.renewalInfoId }
      : {}),
  };
}
