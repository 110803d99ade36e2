import type { DomainPolicyCache } from '@chousei/dns';
import {
  addFinalizer,
  type Condition,
  ConflictError,
  counter,
  type EventRecorder,
  hasFinalizer,
  type InformerScope,
  isAlreadyExists,
  isNotFound,
  type Logger,
  type Manager,
  notFoundIsUndefined,
  type ReconcileContext,
  type Request,
  type Result,
  removeFinalizer,
  type Secret,
  Secrets,
  setCondition,
  WriteExpectations,
} from '@chousei/runtime';
import { parseDuration } from '../api/duration.js';
import {
  ANNOTATION_CERTIFICATE,
  type Certificate,
  type CertificateStatus,
  Certificates,
  ClusterIssuers,
  type Issuer as IssuerResource,
  Issuers,
  LABEL_MANAGED,
} from '../api/types.js';
import { renewalTimeIn } from '../issuers/acme/index.js';
import { IssuanceError, type IssuanceProgress, type IssuedCertificate } from '../issuers/issuer.js';
import { createCsr, generatePrivateKey, inspectCertificate, keySpecOf } from '../pki/index.js';
import { CLUSTER_ISSUERS_NOT_SERVED, servesClusterIssuers } from '../scope.js';
import { validateCertificate } from '../webhook/validation.js';
import { CertificateMetrics } from './certificate-metrics.js';
import { domainRefusal, watchDomainPolicies } from './domain-policy.js';
import type { IssuerBuilder, IssuerLocation } from './issuer-builder.js';
import {
  inUseRefusal,
  isNextKeySecretOf,
  type SecretRefusal,
  secretHolder,
  secretRefusal,
  unseenSecretNeed,
} from './ownership.js';
import {
  type BackoffPolicy,
  DEFAULT_DURATION_MS,
  failureBackoff,
  type IssuanceNeed,
  issuanceNeed,
  keySpec,
  MANUAL_TRIGGER_REASON,
  manualIssuanceRequest,
  renewalDue,
  renewalTimeWith,
  retryTime,
  sameKeySpec,
} from './policy.js';
import { DOMAIN_NOT_ALLOWED, INVALID_SPEC_REASON, SECRET_READ_REFUSALS } from './refusals.js';
import { RenewalInfoSchedule } from './renewal-info.js';
import { nextKeySecret, secretValue, secretWithStaleMetadata, tlsSecret } from './secret.js';

export const CERTIFICATE_FINALIZER = 'cert.chousei.dev/secret';
const FIELD_MANAGER = 'chousei-cert-operator';
/** How long issuances trust an issuer's Secrets as last read (see IssuerBuilder.build). */
const ISSUER_SECRETS_MAX_AGE_MS = 10_000;
/**
 * How often a Certificate whose Secret is refused looks again (no event comes for a Secret
 * outside the cache, nor for the old secretName of another Certificate).
 */
const SECRET_RECHECK_MS = 5 * 60_000;

const issuances = counter(
  'chousei_cert_issuance_attempts_total',
  'Issuance attempts by issuer kind (Issuer or ClusterIssuer) and result',
  ['issuer_kind', 'result'],
);

export interface CertificateControllerOptions {
  manager: Manager;
  issuers: IssuerBuilder;
  events: EventRecorder;
  /** Namespace of Secrets ClusterIssuers reference. */
  clusterResourceNamespace: string;
  /** The operator's one scope of namespaced kinds (see servedScope). */
  scope: InformerScope;
  /** Which names ClusterIssuers may issue for which namespaces; unset with --namespace. */
  domainPolicies?: DomainPolicyCache;
  backoff: BackoffPolicy;
  /** Certificates issued at once. */
  concurrency?: number;
  /** How often to ask an ACME CA again for a certificate's renewal window. Default 6 h. */
  renewalInfoIntervalMs?: number;
  logger: Logger;
}

/**
 * Keeps each Certificate's Secret valid: issues when the Secret is missing, edited, for
 * other names or key type or issuer, or due for renewal; backs off exponentially after
 * failures (a spec change starts over); resumes an ACME order after a restart.
 */
export function certificateController(opts: CertificateControllerOptions) {
  const { manager, events, scope } = opts;
  const client = manager.client;
  const clusterIssuers = servesClusterIssuers(scope);
  // Only Secrets this operator manages are cached (full); all others are never read in bulk.
  const secretScope = { ...scope, labelSelector: `${LABEL_MANAGED}=true` };
  const secrets = manager.cache.informer(Secrets, secretScope);
  const certificates = manager.cache.informer(Certificates, scope, {
    issuer: (c) => [
      `${c.spec.issuerRef.kind ?? 'Issuer'}/${c.spec.issuerRef.kind === 'ClusterIssuer' ? '' : (c.metadata?.namespace ?? '')}/${c.spec.issuerRef.name}`,
    ],
    secret: (c) => [secretKey(c)],
  });
  /** The Certificates naming the Secret `cert` names (itself included). */
  const claimants = (cert: Certificate) => certificates.store.byIndex('secret', secretKey(cert));

  // A reconcile queued by our own status writes may start from a view that misses them
  // (the failure and its backoff not seen yet) and would issue again over that status.
  const ownWrites = new WriteExpectations(certificates);
  /** Patches the status (null removes a field) and remembers the version it made. */
  const patchStatus = async (cert: Certificate, status: object) => {
    const updated = await client.patchStatus(Certificates, key(cert), {
      type: 'merge',
      patch: { status },
    });
    ownWrites.wrote(updated);
    return updated;
  };

  const withCondition = (
    status: CertificateStatus,
    cond: Omit<Condition, 'lastTransitionTime'>,
    cert: Certificate,
  ) =>
    setCondition(status.conditions, { ...cond, observedGeneration: cert.metadata?.generation })
      .conditions;

  /**
   * Ready=False for a Certificate that is not issued as it is (bad spec, its Secret refused),
   * with a Warning Event when that changes. `discarded`: an issuance just made is thrown away,
   * which ends it (its ACME order and key with it).
   */
  async function refuse(
    cert: Certificate,
    refusal: { reason: string; message: string },
    discarded = false,
  ): Promise<void> {
    const ready: Omit<Condition, 'lastTransitionTime'> = {
      type: 'Ready',
      status: 'False',
      ...refusal,
    };
    const conditions = withCondition({ ...cert.status }, ready, cert);
    metrics.notReady(cert);
    if (discarded) {
      await patchStatus(cert, {
        conditions: setCondition(conditions, { ...ready, type: 'Issuing' }).conditions,
        observedGeneration: cert.metadata?.generation,
        acmeOrder: null,
        nextPrivateKeySecretName: null,
      });
    } else if (changed(cert.status, { conditions })) {
      await patchStatus(cert, { conditions });
    } else {
      return;
    }
    events.event(cert, 'Warning', refusal.reason, 'Issue', refusal.message);
  }

  /**
   * The Secret `cert` may write, and whether it is known (cached, or read): else the first
   * write finds out whether one is in the way (see writeSecret). A Secret outside the cache
   * is read before a Certificate's first issuance (it may be taken over without one), and
   * when it was refused, as it may be gone or handed over since.
   */
  async function secretAccess(
    cert: Certificate,
  ): Promise<{ refusal: SecretRefusal } | { secret?: Secret; known: boolean }> {
    const holder = secretHolder(claimants(cert));
    const inUse = holder && inUseRefusal(cert, holder);
    if (inUse) return { refusal: inUse };
    const key = { namespace: cert.metadata?.namespace ?? '', name: cert.spec.secretName };
    let secret = secrets.store.get(`${key.namespace}/${key.name}`);
    const ready = cert.status?.conditions?.find((c) => c.type === 'Ready');
    const refusedBefore = (SECRET_READ_REFUSALS as readonly string[]).includes(ready?.reason ?? '');
    // Never issued here: a Secret already there (cert-manager's, handed over) may be taken
    // as it is, without an issuance.
    const neverIssued = cert.status?.revision === undefined;
    if (!secret && (neverIssued || (ready?.status === 'False' && refusedBefore))) {
      secret = await client.get(Secrets, key).catch(notFoundIsUndefined);
    }
    if (!secret) return { known: false };
    const refusal = secretRefusal(cert, secret);
    return refusal ? { refusal } : { secret, known: true };
  }

  /**
   * Writes the TLS Secret; one not known is applied without force, so that a Secret already
   * there, written by anyone else, conflicts instead of being overwritten. That one is read:
   * written over when it is this Certificate's to take, else refused (nothing written).
   */
  async function writeSecret(
    cert: Certificate,
    secret: Secret,
    known: boolean,
  ): Promise<SecretRefusal | undefined> {
    const write = (force: boolean) =>
      client.apply(Secrets, secret, { fieldManager: FIELD_MANAGER, force });
    try {
      await write(known);
      return undefined;
    } catch (err) {
      if (known || !(err instanceof ConflictError)) throw err;
    }
    const key = { namespace: cert.metadata?.namespace ?? '', name: cert.spec.secretName };
    const existing = await client.get(Secrets, key).catch(notFoundIsUndefined);
    const refusal = existing && secretRefusal(cert, existing);
    if (refusal) return refusal;
    await write(true);
    return undefined;
  }

  const renewalInfo = new RenewalInfoSchedule(opts.renewalInfoIntervalMs);
  const metrics = new CertificateMetrics();
  const issuerFor = (kind: IssuerLocation['kind'], ns: string, resource: IssuerResource) =>
    opts.issuers.build(
      {
        kind,
        namespace: kind === 'ClusterIssuer' ? opts.clusterResourceNamespace : ns,
        resource,
      },
      // The Issuer controller reads the Secrets at every check; issuances in between may
      // use what it (or another issuance) read in the last seconds.
      { maxAgeMs: ISSUER_SECRETS_MAX_AGE_MS },
    );

  /**
   * An ACME CA may move its suggested renewal window forward after issuance (it must revoke):
   * asked again every interval. The renewal time, moved into the window when that now ends
   * before it, and the ms until the CA is asked again.
   */
  async function withRenewalInfo(
    cert: Certificate,
    issuerResource: IssuerResource | undefined,
    certificate: { pem: string; fingerprint: string },
    renewAt: Date,
    log: Logger,
  ): Promise<{ renewAt: Date; askIn: number }> {
    if (!issuerResource?.spec.acme || !isReady(issuerResource)) {
      return { renewAt, askIn: Number.POSITIVE_INFINITY };
    }
    const uid = cert.metadata?.uid ?? '';
    const { pem, fingerprint } = certificate;
    const askIn = renewalInfo.dueIn(uid, fingerprint);
    if (askIn > 0) return { renewAt, askIn };
    const kind = cert.spec.issuerRef.kind ?? 'Issuer';
    const window = await issuerFor(kind, cert.metadata?.namespace ?? '', issuerResource).then(
      (issuer) => issuer.renewalWindow?.(pem, log),
      (err: unknown) => {
        log.info({ err: (err as Error).message }, 'renewal information not asked');
        return undefined;
      },
    );
    renewalInfo.asked(uid, fingerprint);
    // Before or within the window (our own policy may come first): as the CA would have it.
    if (!window || renewAt.getTime() <= window.end.getTime()) {
      return { renewAt, askIn: renewalInfo.intervalMs };
    }
    const suggested = renewalTimeIn(window);
    const message = `the CA suggests renewing between ${window.start.toISOString()} and ${window.end.toISOString()}, before ${renewAt.toISOString()} (ACME Renewal Information); renewing at ${suggested.toISOString()}`;
    events.event(cert, 'Normal', 'RenewalSuggested', 'Renew', message);
    log.info({ renewalTime: suggested, was: renewAt }, message);
    return { renewAt: suggested, askIn: renewalInfo.intervalMs };
  }

  async function reconcile(req: Request, ctx: ReconcileContext): Promise<Result | undefined> {
    const cert = await manager.cache.get(Certificates, req, scope).catch(notFoundIsUndefined);
    if (!cert) {
      metrics.forget(req);
      return;
    }
    // Its watch event will bring this key back; the requeue covers a relist that skipped it.
    if (ownWrites.pending(cert)) return { requeueAfter: 5_000 };
    const ns = cert.metadata?.namespace ?? '';
    if (cert.metadata?.deletionTimestamp) return finalize(cert);
    metrics.observe(cert);
    if (!hasFinalizer(cert, CERTIFICATE_FINALIZER))
      await addFinalizer(client, Certificates, cert, CERTIFICATE_FINALIZER);
    // The webhook's rules hold without the webhook too: what it refuses is never issued.
    const invalid = validateCertificate(cert).errors;
    if (invalid.length) {
      const message = invalid.map((e) => `${e.field}: ${e.message}`).join('; ');
      await refuse(cert, { reason: INVALID_SPEC_REASON, message });
      return;
    }
    const access = await secretAccess(cert);
    if ('refusal' in access) {
      await refuse(cert, access.refusal);
      return { requeueAfter: SECRET_RECHECK_MS };
    }

    const status: CertificateStatus = { ...cert.status };
    const kind = cert.spec.issuerRef.kind ?? 'Issuer';
    const notServed = kind === 'ClusterIssuer' && !clusterIssuers;
    const issuerResource = notServed
      ? undefined
      : await (kind === 'ClusterIssuer'
          ? manager.cache.get(ClusterIssuers, { name: cert.spec.issuerRef.name })
          : manager.cache.get(Issuers, { namespace: ns, name: cert.spec.issuerRef.name }, scope)
        ).catch(notFoundIsUndefined);
    const refused =
      kind === 'ClusterIssuer' && opts.domainPolicies
        ? domainRefusal(opts.domainPolicies, cert)
        : undefined;
    if (refused) {
      // Nothing ordered; a policy or namespace label change brings it back.
      await refuse(cert, { reason: DOMAIN_NOT_ALLOWED, message: refused });
      return;
    }
    const secret = access.secret;
    const now = new Date();
    const need =
      (secret ? issuanceNeed(cert, secret, now) : unseenSecretNeed(cert)) ??
      manualIssuanceRequest(cert);
    if (!need) {
      const mended = secret && secretWithStaleMetadata(cert, secret);
      if (mended) {
        await client.apply(Secrets, mended, { fieldManager: FIELD_MANAGER, force: true });
        ctx.log.info({ secret: cert.spec.secretName }, 'Secret labels and annotations updated');
      }
      const pem = secretValue(secret, 'tls.crt')!;
      const info = inspectCertificate(pem);
      const { renewAt, askIn } = await withRenewalInfo(
        cert,
        issuerResource,
        { pem, fingerprint: info.fingerprintSha256 },
        renewalDue(cert, info.notBefore, info.notAfter),
        ctx.log,
      );
      metrics.issued(cert, info.notAfter, renewAt);
      const conditions = withCondition(
        status,
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'Certificate is up to date and has not expired',
        },
        cert,
      );
      const issuing = conditions.find((c) => c.type === 'Issuing');
      const next: CertificateStatus = {
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
        notBefore: rfc3339(info.notBefore),
        notAfter: rfc3339(info.notAfter),
        renewalTime: rfc3339(renewAt),
      };
      if (changed(cert.status, next)) await patchStatus(cert, next);
      return { requeueAfter: Math.max(1000, Math.min(renewAt.getTime() - now.getTime(), askIn)) };
    }

    if (!issuerResource || !isReady(issuerResource)) {
      const message = issuerResource
        ? `${kind} ${cert.spec.issuerRef.name} is not ready: ${readyMessage(issuerResource)}`
        : notServed
          ? `ClusterIssuer ${cert.spec.issuerRef.name} not used: ${CLUSTER_ISSUERS_NOT_SERVED}; use an Issuer in ${ns}`
          : `${kind} ${cert.spec.issuerRef.name} not found`;
      const conditions = withCondition(
        status,
        {
          type: 'Ready',
          status: 'False',
          reason: issuerResource ? 'IssuerNotReady' : 'IssuerNotFound',
          message,
        },
        cert,
      );
      metrics.notReady(cert);
      if (changed(cert.status, { conditions })) {
        await patchStatus(cert, { conditions });
        events.event(
          cert,
          'Warning',
          issuerResource ? 'IssuerNotReady' : 'IssuerNotFound',
          'Issue',
          message,
        );
      }
      // Issuer events requeue this Certificate; the timer is a safety net. Not served: only
      // a spec change helps, and it comes as an event.
      return notServed ? undefined : { requeueAfter: 60_000 };
    }

    // Back off after failures, unless the spec changed since (a fix starts over) or
    // someone asked for this issuance by hand.
    const attempts = cert.status?.failedIssuanceAttempts ?? 0;
    const sameSpec = cert.status?.observedGeneration === cert.metadata?.generation;
    const retryAt = retryTime(cert, opts.backoff)?.getTime() ?? 0;
    if (retryAt > now.getTime() && need.reason !== MANUAL_TRIGGER_REASON) {
      return { requeueAfter: retryAt - now.getTime() };
    }

    events.event(cert, 'Normal', 'Issuing', 'Issue', `Issuing certificate: ${need.message}`);
    const issuingConditions = setCondition(status.conditions, {
      type: 'Issuing',
      status: 'True',
      reason: need.reason,
      message: need.message,
    }).conditions;
    const progress = progressReporter(cert, issuingConditions, need, ctx.log);

    try {
      const issuer = await issuerFor(kind, ns, issuerResource);
      // Only an ACME order can outlive this reconcile: only then is the key kept in a Secret.
      const signingKey = await privateKey(cert, secret, issuer.kind === 'ACME');
      const keyPem = signingKey.pem;
      // Written with the ACME order it issues under, which is saved before any wait: one
      // status write instead of two. An issuer that signs at once needs none, as the Ready
      // status follows in this reconcile; the Issuing Event tells either way.
      const issuing: CertificateStatus = {
        conditions: issuingConditions,
        ...(signingKey.storedIn ? { nextPrivateKeySecretName: signingKey.storedIn } : {}),
      };
      // A resumed order is not saved again: the attempt says itself that it is issuing (the
      // status may still tell of the failed attempt before it).
      if (cert.status?.acmeOrder && changed(cert.status, issuing)) await patchStatus(cert, issuing);
      const csrPem = createCsr({
        privateKeyPem: keyPem,
        ...(cert.spec.commonName ? { commonName: cert.spec.commonName } : {}),
        dnsNames: cert.spec.dnsNames ?? [],
        ipAddresses: cert.spec.ipAddresses ?? [],
        ...(cert.spec.isCA ? { isCA: true } : {}),
      });
      const durationMs =
        (cert.spec.duration && parseDuration(cert.spec.duration)) || DEFAULT_DURATION_MS;
      const renews =
        need.reason === 'Renewing' || need.reason === MANUAL_TRIGGER_REASON
          ? secretValue(secret, 'tls.crt')
          : undefined;
      const issued: IssuedCertificate = await issuer.issue(
        {
          certificate: `${ns}/${cert.metadata?.name}`,
          ...(cert.spec.commonName ? { commonName: cert.spec.commonName } : {}),
          dnsNames: cert.spec.dnsNames ?? [],
          ipAddresses: cert.spec.ipAddresses ?? [],
          durationMs,
          // Unset: the signer picks the usages that fit the key type.
          usages: cert.spec.usages ?? [],
          privateKeyPem: keyPem,
          csrPem,
          ...(cert.spec.isCA ? { isCA: true } : {}),
          // Renewing, or asked for by hand: the Secret holds a sound certificate of this
          // issuer (issuanceNeed checked), which the new one replaces.
          ...(renews ? { replaces: renews } : {}),
        },
        {
          signal: ctx.signal,
          log: ctx.log,
          ...(cert.status?.acmeOrder ? { resume: { orderUrl: cert.status.acmeOrder.url } } : {}),
          save: async (state) => {
            if (state.orderUrl)
              await patchStatus(cert, { ...issuing, acmeOrder: { url: state.orderUrl } });
          },
          progress: progress.report,
        },
      );
      // Before any other status write: a late progress write would undo it.
      await progress.close();
      const refusal = await writeSecret(
        cert,
        tlsSecret(cert, {
          certificate: issued.certificatePem,
          key: keyPem,
          ...(issued.caPem ? { ca: issued.caPem } : {}),
        }),
        access.known,
      );
      if (signingKey.storedIn) {
        await client
          .delete(Secrets, { namespace: ns, name: signingKey.storedIn })
          .catch(() => undefined);
      }
      if (refusal) {
        // Found in the way only now: the next attempts read the Secret first (secretAccess).
        issuances.inc({ issuer_kind: kind, result: 'failure' });
        await refuse(cert, refusal, true);
        ctx.log.warn({ reason: refusal.reason, secret: cert.spec.secretName }, refusal.message);
        return { requeueAfter: SECRET_RECHECK_MS };
      }
      const info = inspectCertificate(issued.certificatePem);
      // The issuance asked for its renewal window already.
      if (issuer.renewalWindow) {
        renewalInfo.asked(cert.metadata?.uid ?? '', info.fingerprintSha256);
      }
      // As renewalDue() will read it back from the status: one write, no second opinion.
      const renewAt = renewalTimeWith(cert, info.notBefore, info.notAfter, issued.renewalTime);
      const conditions = setCondition(
        withCondition(
          status,
          {
            type: 'Ready',
            status: 'True',
            reason: 'Ready',
            message: 'Certificate is up to date and has not expired',
          },
          cert,
        ),
        {
          type: 'Issuing',
          status: 'False',
          reason: 'Issued',
          message: `Issued revision ${(cert.status?.revision ?? 0) + 1}`,
        },
      ).conditions;
      await patchStatus(cert, {
        conditions,
        observedGeneration: cert.metadata?.generation,
        notBefore: rfc3339(info.notBefore),
        notAfter: rfc3339(info.notAfter),
        renewalTime: rfc3339(renewAt),
        revision: (cert.status?.revision ?? 0) + 1,
        failedIssuanceAttempts: null,
        lastFailureTime: null,
        acmeOrder: null,
        nextPrivateKeySecretName: null,
      });
      issuances.inc({ issuer_kind: kind, result: 'success' });
      metrics.issued(cert, info.notAfter, renewAt);
      events.event(
        cert,
        'Normal',
        'Issued',
        'Issue',
        `Certificate issued, valid until ${rfc3339(info.notAfter)}`,
      );
      ctx.log.info({ notAfter: info.notAfter, renewalTime: renewAt }, 'certificate issued');
      return { requeueAfter: Math.max(1000, renewAt.getTime() - Date.now()) };
    } catch (err) {
      await progress.close();
      if (ctx.signal.aborted) throw err;
      const failure =
        err instanceof IssuanceError
          ? err
          : new IssuanceError('Failed', (err as Error).message, true, undefined, { cause: err });
      const nextAttempts = (sameSpec ? attempts : 0) + 1;
      const wait = Math.max(failureBackoff(nextAttempts, opts.backoff), failure.retryAfterMs ?? 0);
      const conditions = setCondition(
        withCondition(
          status,
          { type: 'Ready', status: 'False', reason: failure.reason, message: failure.message },
          cert,
        ),
        {
          type: 'Issuing',
          status: 'False',
          reason: 'Failed',
          message: `${failure.message}; retrying in ${Math.round(wait / 1000)} s`,
        },
      ).conditions;
      // A failed order is not resumed; an unreachable server's order is, and one whose
      // challenges the CA was not asked to validate (a new order would count against limits).
      const keepOrder =
        failure.reason === 'ACMEServerUnreachable' ||
        failure.reason === 'RateLimited' ||
        failure.reason === 'SelfCheckTimeout';
      await patchStatus(cert, {
        conditions,
        observedGeneration: cert.metadata?.generation,
        failedIssuanceAttempts: nextAttempts,
        lastFailureTime: rfc3339(new Date()),
        ...(keepOrder ? {} : { acmeOrder: null }),
      });
      issuances.inc({ issuer_kind: kind, result: 'failure' });
      metrics.notReady(cert);
      events.event(cert, 'Warning', 'Failed', 'Issue', `${failure.reason}: ${failure.message}`);
      ctx.log.warn(
        { reason: failure.reason, err: failure.message, attempts: nextAttempts, retryInMs: wait },
        'issuance failed',
      );
      return { requeueAfter: wait };
    }
  }

  /**
   * Tells on the Certificate what its issuance waits for: each report is an Event, and the
   * Issuing message lists each subject's latest one (the reason stays: ManuallyTriggered must
   * survive a restart). Writes go in order; close() waits for them, so none lands after the
   * issuance's final status.
   */
  function progressReporter(
    cert: Certificate,
    conditions: Condition[],
    need: IssuanceNeed,
    log: Logger,
  ): { report: (p: IssuanceProgress) => void; close: () => Promise<void> } {
    const latest = new Map<string, string>();
    let writes = Promise.resolve();
    let open = true;
    return {
      report: (p) => {
        if (!open) return;
        events.event(cert, 'Normal', p.reason, 'Issue', p.message);
        latest.set(p.subject, p.message);
        const issuing = setCondition(conditions, {
          type: 'Issuing',
          status: 'True',
          reason: need.reason,
          message: [...latest.values()].join('; '),
        }).conditions;
        writes = writes
          .then(() => patchStatus(cert, { conditions: issuing }))
          .then(
            () => undefined,
            (err: unknown) =>
              log.warn({ err: (err as Error).message }, 'could not report issuance progress'),
          );
      },
      close: () => {
        open = false;
        return writes;
      },
    };
  }

  /**
   * The key to certify: the existing one under rotationPolicy Never, else a new one; when
   * `persist`, kept in a Secret until issued, so a resumed order finalizes with it.
   */
  async function privateKey(
    cert: Certificate,
    secret: ReturnType<typeof secrets.store.get>,
    persist: boolean,
  ): Promise<{ pem: string; storedIn?: string }> {
    const want = keySpec(cert);
    // Read only when it may be kept: an unreadable key is replaced by a new one anyway.
    const current =
      cert.spec.privateKey?.rotationPolicy === 'Never' ? secretValue(secret, 'tls.key') : undefined;
    if (current && sameKeySpec(keySpecOf(current), want)) {
      return { pem: current };
    }
    const name = nextKeyName(cert);
    // The cache holds every managed Secret, next keys included.
    const pending = secrets.store.get(`${cert.metadata?.namespace}/${name}`);
    const ours = isNextKeySecretOf(cert, pending);
    const pendingPem = ours ? secretValue(pending, 'tls.key') : undefined;
    if (pendingPem && sameKeySpec(keySpecOf(pendingPem), want))
      return { pem: pendingPem, storedIn: name };
    const pem = generatePrivateKey(want);
    if (!persist) return { pem };
    const desired = nextKeySecret(cert, name, pem);
    if (ours) await client.apply(Secrets, desired, { fieldManager: FIELD_MANAGER, force: true });
    else await createNextKeySecret(cert, desired);
    return { pem, storedIn: name };
  }

  /**
   * Creates the next-key Secret, not seen in the cache. Created rather than applied: an
   * apply without force would merge its key into an Opaque Secret of that name (nothing of
   * theirs conflicts). One already there is written over only when it is `cert`'s.
   */
  async function createNextKeySecret(cert: Certificate, secret: Secret): Promise<void> {
    try {
      await client.create(Secrets, secret, { fieldManager: FIELD_MANAGER });
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const name = secret.metadata?.name ?? '';
    const key = { namespace: cert.metadata?.namespace ?? '', name };
    const existing = await client.get(Secrets, key).catch(notFoundIsUndefined);
    if (existing && !isNextKeySecretOf(cert, existing)) {
      const message = `Secret ${name}, where an ACME issuance keeps its key, exists and is not this operator's; delete or rename it`;
      throw new IssuanceError('SecretNotOwned', message, false);
    }
    await client.apply(Secrets, secret, { fieldManager: FIELD_MANAGER, force: true });
  }

  async function finalize(cert: Certificate): Promise<undefined> {
    renewalInfo.forget(cert.metadata?.uid ?? '');
    if (!hasFinalizer(cert, CERTIFICATE_FINALIZER)) return;
    const ns = cert.metadata?.namespace ?? '';
    if ((cert.spec.secretDeletionPolicy ?? 'Delete') === 'Delete') {
      const secret = secrets.store.get(`${ns}/${cert.spec.secretName}`);
      // Only a Secret this Certificate wrote: never one it merely names.
      if (secret?.metadata?.annotations?.[ANNOTATION_CERTIFICATE] === cert.metadata?.name) {
        await client
          .delete(Secrets, { namespace: ns, name: cert.spec.secretName })
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
      }
    }
    // Only a next-key Secret of this Certificate's (one not cached yet goes by its owner reference).
    if (isNextKeySecretOf(cert, secrets.store.get(`${ns}/${nextKeyName(cert)}`))) {
      await client
        .delete(Secrets, { namespace: ns, name: nextKeyName(cert) })
        .catch(() => undefined);
    }
    metrics.forget(key(cert));
    await removeFinalizer(client, Certificates, cert, CERTIFICATE_FINALIZER);
    return;
  }

  const issuerKeyOf = (kind: string, obj: IssuerResource) =>
    `${kind}/${kind === 'ClusterIssuer' ? '' : (obj.metadata?.namespace ?? '')}/${obj.metadata?.name}`;
  const byIssuer = (kind: 'Issuer' | 'ClusterIssuer') => (obj: IssuerResource) =>
    certificates.store.byIndex('issuer', issuerKeyOf(kind, obj)).map((c) => key(c));

  const builder = manager
    .controller('certificates')
    .for(Certificates, scope)
    .watches(
      Secrets,
      (s) => {
        const name = s.metadata?.annotations?.[ANNOTATION_CERTIFICATE];
        return name ? [{ namespace: s.metadata?.namespace ?? '', name }] : [];
      },
      secretScope,
    )
    // When a Certificate comes or goes, the others naming its Secret may keep it or lose it.
    .watches(
      Certificates,
      (c) =>
        claimants(c)
          .filter((o) => o.metadata?.name !== c.metadata?.name)
          .map((o) => key(o)),
      scope,
    )
    .watches(Issuers, byIssuer('Issuer'), scope);
  if (clusterIssuers) builder.watches(ClusterIssuers, byIssuer('ClusterIssuer'));
  if (opts.domainPolicies) watchDomainPolicies(builder, opts.domainPolicies, certificates);
  return builder
    .withOptions({ maxConcurrentReconciles: opts.concurrency ?? 50 })
    .complete(reconcile);
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function key(obj: { metadata?: { namespace?: string; name?: string } }) {
  return { namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
}

function secretKey(cert: Certificate): string {
  return `${cert.metadata?.namespace ?? ''}/${cert.spec.secretName}`;
}

function nextKeyName(cert: Certificate): string {
  return `${cert.metadata?.name}-next-key`;
}

function isReady(obj: IssuerResource): boolean {
  return obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function readyMessage(obj: IssuerResource): string {
  return (
    obj.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? 'no Ready condition yet'
  );
}

/** Whether writing `next` would change anything in `current` (conditions compared without timestamps). */
function changed(current: CertificateStatus | undefined, next: CertificateStatus): boolean {
  const strip = (s: Partial<CertificateStatus>) =>
    JSON.stringify({ ...s, conditions: s.conditions?.map(({ lastTransitionTime: _, ...c }) => c) });
  const picked = Object.fromEntries(
    Object.keys(next).map((k) => [k, (current as Record<string, unknown> | undefined)?.[k]]),
  );
  return strip(picked) !== strip(next);
}
