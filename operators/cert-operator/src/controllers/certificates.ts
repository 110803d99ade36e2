import type { DomainPolicyCache } from '@chousei/dns';
import {
  type EventRecorder,
  type Informer,
  type InformerScope,
  isConditionTrue,
  keyOf,
  type Logger,
  type Manager,
  type ObjectContext,
  type ObjectKey,
  type ObjectReconciler,
  Secrets,
  whenAborted,
} from '@chousei/runtime';
import {
  ANNOTATION_CERTIFICATE,
  type Certificate,
  Certificates,
  ClusterIssuers,
  type Issuer as IssuerResource,
  Issuers,
  LABEL_MANAGED,
} from '../api/types.js';
import { servesClusterIssuers } from '../scope.js';
import { IssuanceGate } from './certificate/gate.js';
import { Issuing } from './certificate/issuing.js';
import { KeyManager } from './certificate/key-manager.js';
import { Readiness } from './certificate/readiness.js';
import { SecretWriter } from './certificate/secret-writer.js';
import { type CertificateResult, refused } from './certificate/status.js';
import { backoffWait, issuanceTrigger } from './certificate/trigger.js';
import { exportCertificateMetrics } from './certificate-metrics.js';
import { watchDomainPolicies } from './domain-policy.js';
import type { IssuerBuilder } from './issuer-builder.js';
import type { BackoffPolicy } from './policy.js';
import { RenewalInfoSchedule } from './renewal-info.js';
import { readSecret, SecretRecords } from './secret.js';

export const CERTIFICATE_FINALIZER = 'cert.chousei.dev/secret';
/** How long issuances trust an issuer's Secrets as last read (see IssuerBuilder.build). */
const ISSUER_SECRETS_MAX_AGE_MS = 10_000;

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

/** The units of a Certificate's lifecycle, each owning one transition. */
interface Units {
  events: EventRecorder;
  gate: IssuanceGate;
  readiness: Readiness;
  issuing: Issuing;
  keys: KeyManager;
  secrets: SecretWriter;
  renewalInfo: RenewalInfoSchedule;
  backoff: BackoffPolicy;
}

/**
 * Keeps each Certificate's Secret valid: issues when the Secret is missing, edited, for
 * other names or key type or issuer, or due for renewal; backs off exponentially after
 * failures (a spec change starts over); resumes an ACME order after a restart. The runtime
 * reads the Certificate, holds the finalizer and writes the status returned.
 */
export class CertificateReconciler implements ObjectReconciler<Certificate> {
  readonly finalizer = { name: CERTIFICATE_FINALIZER, cleanup: this.cleanup.bind(this) };

  constructor(private readonly units: Units) {}

  async reconcile(cert: Certificate, ctx: ObjectContext): Promise<CertificateResult> {
    const { gate, readiness, issuing } = this.units;
    // 0. An ACME order under way: what it waits for, or its end; a first one waits its turn.
    const underWay = await issuing.underWay(cert, ctx);
    if (underWay) return underWay;
    const named = await gate.issuer(cert);
    const waiting = issuing.waitingTurn(cert, named, ctx);
    if (waiting) return waiting;
    // 1. May it be issued at all: spec, Secret, DomainPolicies.
    const admitted = await gate.admit(cert, named);
    if ('refusal' in admitted) {
      const result = refused(cert, admitted.refusal, this.units);
      return {
        ...result,
        ...(admitted.requeueAfter ? { requeueAfter: admitted.requeueAfter } : {}),
      };
    }
    // 2. Is an issuance due, and why: the Secret read once, tls.crt parsed once.
    const contents = readSecret(cert.spec.secretName, admitted.secret);
    const now = new Date();
    const need = issuanceTrigger(cert, admitted.secret, contents, now);
    const { secret, issuer } = admitted;
    // 3. Not due (so the Secret is there and sound): Ready, renewed at its time.
    if (!need && secret && 'certificate' in contents) {
      return readiness.upToDate(cert, { secret, ...contents }, issuer, ctx.log);
    }
    const resource = issuer.resource;
    // (`!need` only narrows the type: nothing due means the Secret was read sound, above.)
    if (!need || !resource || !isConditionTrue(resource.status?.conditions, 'Ready')) {
      return readiness.issuerNotReady(cert, issuer);
    }
    // 4. Due, after the backoff of earlier failures: issue.
    const wait = backoffWait(cert, need, this.units.backoff, now);
    if (wait > 0) return { requeueAfter: wait };
    const input = { need, contents, admitted: { ...admitted, issuer: { ...issuer, resource } } };
    return issuing.issue(cert, input, ctx);
  }

  /** Stops an order under way, deletes the Secret (secretDeletionPolicy Delete) and the next key's. */
  async cleanup(cert: Certificate): Promise<void> {
    await this.units.issuing.stop(cert, 'the Certificate is deleted');
    this.units.renewalInfo.forget(cert.metadata?.uid ?? '');
    await this.units.secrets.cleanup(cert);
    await this.units.keys.cleanup(cert);
  }

  /** Gone without its finalizer (removed by hand): an order under way for it stops too. */
  async deleted(key: ObjectKey): Promise<void> {
    await this.units.issuing.stop(key, 'the Certificate is deleted');
  }
}

/** The Certificate controller: its caches, what wakes a Certificate, and its reconciler. */
export function certificateController(opts: CertificateControllerOptions) {
  const { manager, scope } = opts;
  const client = manager.client;
  const clusterIssuers = servesClusterIssuers(scope);
  // Only Secrets this operator manages are cached, cut to what a reconcile reads; all others
  // are never read in bulk.
  const secretScope = { ...scope, labelSelector: `${LABEL_MANAGED}=true` };
  const records = new SecretRecords();
  const { transform } = records;
  const secrets = manager.cache.informer(Secrets, secretScope, {}, { transform });
  const certificates = manager.cache.informer(Certificates, scope, {
    issuer: (c) => [
      issuerKey(c.spec.issuerRef.kind ?? 'Issuer', c.metadata?.namespace, c.spec.issuerRef.name),
    ],
    secret: (c) => [secretKey(c)],
  });
  /** The Certificates naming the Secret `cert` names (itself included). */
  const claimants = (cert: Certificate) => certificates.store.byIndex('secret', secretKey(cert));
  const issuerFor = (cert: Certificate, resource: IssuerResource) => {
    const kind = cert.spec.issuerRef.kind ?? 'Issuer';
    const namespace =
      kind === 'ClusterIssuer' ? opts.clusterResourceNamespace : (cert.metadata?.namespace ?? '');
    // The Issuer controller reads the Secrets at every check; issuances in between may
    // use what it (or another issuance) read in the last seconds.
    return opts.issuers.build(
      { kind, namespace, resource },
      { maxAgeMs: ISSUER_SECRETS_MAX_AGE_MS },
    );
  };
  const renewalInfo = new RenewalInfoSchedule(opts.renewalInfoIntervalMs);
  const writer = new SecretWriter(client, secrets, records);
  const keys = new KeyManager(client, secrets);
  const tell = { events: opts.events };
  const readiness = new Readiness(opts.events, renewalInfo, writer, issuerFor);
  const concurrency = opts.concurrency ?? 50;
  const issuing = new Issuing(tell, keys, writer, readiness, issuerFor, opts.backoff, concurrency);
  watchOrders(manager, certificates, issuing);
  exportCertificateMetrics(manager, certificates.store);
  const reconciler = new CertificateReconciler({
    ...tell,
    gate: new IssuanceGate(
      client,
      manager.cache,
      scope,
      secrets,
      claimants,
      clusterIssuers,
      opts.domainPolicies,
    ),
    readiness,
    issuing,
    keys,
    secrets: writer,
    renewalInfo,
    backoff: opts.backoff,
  });

  const byIssuer = (kind: 'Issuer' | 'ClusterIssuer') => (obj: IssuerResource) =>
    certificates.store
      .byIndex('issuer', issuerKey(kind, obj.metadata?.namespace, obj.metadata?.name ?? ''))
      .map((c) => keyOf(c));
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
          .map((o) => keyOf(o)),
      scope,
    )
    .watches(Issuers, byIssuer('Issuer'), scope);
  if (clusterIssuers) builder.watches(ClusterIssuers, byIssuer('ClusterIssuer'));
  if (opts.domainPolicies) watchDomainPolicies(builder, opts.domainPolicies, certificates);
  return builder.withOptions({ maxConcurrentReconciles: concurrency }).reconcileObjects(reconciler);
}

/**
 * Ties the ACME orders under way to the Certificates and the manager: a reconcile waiting on
 * an order lets go of it when its spec changes or it is deleted, and shutdown waits (within
 * its grace period) for the orders to end their waits and withdraw what they presented,
 * before the Lease is handed over.
 */
function watchOrders(manager: Manager, certificates: Informer<Certificate>, issuing: Issuing) {
  certificates.addHandler({
    onUpdate: (old, cur) => {
      const { generation, deletionTimestamp } = cur.metadata ?? {};
      if (generation !== old.metadata?.generation || deletionTimestamp) issuing.interrupt(cur);
    },
    onDelete: (cert) => issuing.interrupt(cert),
  });
  manager.add({
    name: 'acme orders',
    needsLeaderElection: true,
    start: async (signal) => {
      await whenAborted(signal);
      await issuing.settled();
    },
  });
}

/** The index key of an issuer: a ClusterIssuer's has no namespace. */
function issuerKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${kind === 'ClusterIssuer' ? '' : (namespace ?? '')}/${name}`;
}

function secretKey(cert: Certificate): string {
  return `${cert.metadata?.namespace ?? ''}/${cert.spec.secretName}`;
}
