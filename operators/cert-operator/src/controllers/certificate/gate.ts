import type { DomainPolicyCache } from '@chousei/dns';
import {
  type Client,
  findCondition,
  type Informer,
  type InformerScope,
  type Manager,
  notFoundIsUndefined,
  type Secret,
  Secrets,
} from '@chousei/runtime';
import {
  type Certificate,
  ClusterIssuers,
  type Issuer as IssuerResource,
  Issuers,
} from '../../api/types.js';
import { validateCertificate } from '../../webhook/validation.js';
import { domainRefusal } from '../domain-policy.js';
import { inUseRefusal, secretHolder, secretRefusal } from '../ownership.js';
import { DOMAIN_NOT_ALLOWED, INVALID_SPEC_REASON, SECRET_READ_REFUSALS } from '../refusals.js';
import type { Refusal } from './status.js';

/**
 * How often a Certificate whose Secret is refused looks again (no event comes for a Secret
 * outside the cache, nor for the old secretName of another Certificate).
 */
export const SECRET_RECHECK_MS = 5 * 60_000;

/** The issuer a Certificate names, as the cache holds it. */
export interface IssuerRef {
  kind: 'Issuer' | 'ClusterIssuer';
  /** Unset: not found, or not served. */
  resource?: IssuerResource;
  /** A ClusterIssuer while this operator serves one namespace only. */
  notServed: boolean;
}

/** What a Certificate admitted to issuance may use. */
export interface Admitted {
  /** Its Secret, when known (cached, or read). */
  secret?: Secret;
  /** Else the first write finds out whether one is in the way (see SecretWriter). */
  known: boolean;
  issuer: IssuerRef;
}

/**
 * What must hold before anything is issued: the spec is valid (the webhook's rules hold
 * without the webhook too), the Secret is this Certificate's to write, and a ClusterIssuer's
 * DomainPolicies allow the names. A refusal is requeued when only a look later can lift it.
 */
export class IssuanceGate {
  constructor(
    private readonly client: Client,
    private readonly cache: Manager['cache'],
    private readonly scope: InformerScope,
    private readonly secrets: Informer<Secret>,
    /** The Certificates naming the Secret `cert` names (itself included). */
    private readonly claimants: (cert: Certificate) => Certificate[],
    private readonly clusterIssuers: boolean,
    private readonly domainPolicies?: DomainPolicyCache,
  ) {}

  /** `issuer`: the one `cert` names, as `issuer(cert)` answered. */
  async admit(
    cert: Certificate,
    issuer: IssuerRef,
  ): Promise<Admitted | { refusal: Refusal; requeueAfter?: number }> {
    const invalid = validateCertificate(cert).errors;
    if (invalid.length) {
      const message = invalid.map((e) => `${e.field}: ${e.message}`).join('; ');
      return { refusal: { reason: INVALID_SPEC_REASON, message } };
    }
    const access = await this.secretAccess(cert);
    if ('refusal' in access) return { ...access, requeueAfter: SECRET_RECHECK_MS };
    const refused =
      issuer.kind === 'ClusterIssuer' && this.domainPolicies
        ? domainRefusal(this.domainPolicies, cert)
        : undefined;
    // Nothing ordered; a policy or namespace label change brings it back.
    if (refused) return { refusal: { reason: DOMAIN_NOT_ALLOWED, message: refused } };
    return { ...access, issuer };
  }

  /** The issuer `cert` names, as the cache holds it (no API request). */
  async issuer(cert: Certificate): Promise<IssuerRef> {
    const kind = cert.spec.issuerRef.kind ?? 'Issuer';
    const notServed = kind === 'ClusterIssuer' && !this.clusterIssuers;
    const { name } = cert.spec.issuerRef;
    const namespace = cert.metadata?.namespace ?? '';
    const resource = notServed
      ? undefined
      : await (kind === 'ClusterIssuer'
          ? this.cache.get(ClusterIssuers, { name })
          : this.cache.get(Issuers, { namespace, name }, this.scope)
        ).catch(notFoundIsUndefined);
    return { kind, notServed, ...(resource ? { resource } : {}) };
  }

  /**
   * The Secret `cert` may write, and whether it is known. A Secret outside the cache is
   * read before a Certificate's first issuance (it may be taken over without one), and
   * when it was refused, as it may be gone or handed over since.
   */
  private async secretAccess(
    cert: Certificate,
  ): Promise<{ refusal: Refusal } | { secret?: Secret; known: boolean }> {
    const holder = secretHolder(this.claimants(cert));
    const inUse = holder && inUseRefusal(cert, holder);
    if (inUse) return { refusal: inUse };
    const key = { namespace: cert.metadata?.namespace ?? '', name: cert.spec.secretName };
    let secret = this.secrets.store.get(`${key.namespace}/${key.name}`);
    const ready = findCondition(cert.status?.conditions, 'Ready');
    const refusedBefore = (SECRET_READ_REFUSALS as readonly string[]).includes(ready?.reason ?? '');
    // Never issued here: a Secret already there (cert-manager's, handed over) may be taken
    // as it is, without an issuance.
    const neverIssued = cert.status?.revision === undefined;
    if (!secret && (neverIssued || (ready?.status === 'False' && refusedBefore))) {
      secret = await this.client.get(Secrets, key).catch(notFoundIsUndefined);
    }
    if (!secret) return { known: false };
    const refusal = secretRefusal(cert, secret);
    return refusal ? { refusal } : { secret, known: true };
  }
}
