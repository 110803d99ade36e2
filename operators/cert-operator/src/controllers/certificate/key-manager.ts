import {
  type Client,
  type Informer,
  isAlreadyExists,
  notFoundIsUndefined,
  type Secret,
  Secrets,
} from '@chousei/runtime';
import type { Certificate } from '../../api/types.js';
import { IssuanceError } from '../../issuance.js';
import { generatePrivateKey, keySpecOf } from '../../pki/index.js';
import { isNextKeySecretOf } from '../ownership.js';
import { keySpec, sameKeySpec } from '../policy.js';
import { nextKeySecret, secretValue } from '../secret.js';
import { FIELD_MANAGER } from './secret-writer.js';

/** The key to certify, and the Secret that keeps it until issued (if any). */
export interface SigningKey {
  pem: string;
  storedIn?: string;
}

/**
 * The next private key of each Certificate (cert-manager's key manager): the existing one
 * under rotationPolicy Never, else a new one, kept in a next-key Secret while an ACME order
 * may outlive the reconcile, so a resumed order finalizes with it.
 */
export class KeyManager {
  constructor(
    private readonly client: Client,
    /** Every managed Secret, next keys included. */
    private readonly secrets: Informer<Secret>,
  ) {}

  /** The key to certify; `persist`: kept in a Secret until issued. */
  async next(cert: Certificate, persist: boolean): Promise<SigningKey> {
    const want = keySpec(cert);
    const current = await this.keptKey(cert);
    if (current && sameKeySpec(keySpecOf(current), want)) {
      return { pem: current };
    }
    const name = nextKeyName(cert);
    const pending = this.secrets.store.get(`${cert.metadata?.namespace}/${name}`);
    const ours = isNextKeySecretOf(cert, pending);
    const pendingPem = ours ? secretValue(pending, 'tls.key') : undefined;
    if (pendingPem && sameKeySpec(keySpecOf(pendingPem), want))
      return { pem: pendingPem, storedIn: name };
    const pem = generatePrivateKey(want);
    if (!persist) return { pem };
    const desired = nextKeySecret(cert, name, pem);
    if (ours)
      await this.client.apply(Secrets, desired, { fieldManager: FIELD_MANAGER, force: true });
    else await this.create(cert, desired);
    return { pem, storedIn: name };
  }

  /**
   * The key in the Certificate's Secret, under rotationPolicy Never: read from the API, as
   * the cache keeps no key of a TLS Secret.
   */
  private async keptKey(cert: Certificate): Promise<string | undefined> {
    if (cert.spec.privateKey?.rotationPolicy !== 'Never') return undefined;
    const key = { namespace: cert.metadata?.namespace ?? '', name: cert.spec.secretName };
    const secret = await this.client.get(Secrets, key).catch(notFoundIsUndefined);
    return secretValue(secret, 'tls.key');
  }

  /** The key was used (issued, or the issuance thrown away): its Secret goes. */
  async used(cert: Certificate, key: SigningKey): Promise<void> {
    if (!key.storedIn) return;
    const namespace = cert.metadata?.namespace ?? '';
    await this.client.delete(Secrets, { namespace, name: key.storedIn }).catch(() => undefined);
  }

  /** The Certificate is deleted: only a next-key Secret of its own goes with it. */
  async cleanup(cert: Certificate): Promise<void> {
    const namespace = cert.metadata?.namespace ?? '';
    // One not cached yet goes by its owner reference.
    if (!isNextKeySecretOf(cert, this.secrets.store.get(`${namespace}/${nextKeyName(cert)}`)))
      return;
    await this.used(cert, { pem: '', storedIn: nextKeyName(cert) });
  }

  /**
   * Creates the next-key Secret, not seen in the cache. Created rather than applied: an
   * apply without force would merge its key into an Opaque Secret of that name (nothing of
   * theirs conflicts). One already there is written over only when it is `cert`'s.
   */
  private async create(cert: Certificate, secret: Secret): Promise<void> {
    try {
      await this.client.create(Secrets, secret, { fieldManager: FIELD_MANAGER });
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const name = secret.metadata?.name ?? '';
    const key = { namespace: cert.metadata?.namespace ?? '', name };
    const existing = await this.client.get(Secrets, key).catch(notFoundIsUndefined);
    if (existing && !isNextKeySecretOf(cert, existing)) {
      const message = `Secret ${name}, where an ACME issuance keeps its key, exists and is not this operator's; delete or rename it`;
      throw new IssuanceError('SecretNotOwned', message, false);
    }
    await this.client.apply(Secrets, secret, { fieldManager: FIELD_MANAGER, force: true });
  }
}

function nextKeyName(cert: Certificate): string {
  return `${cert.metadata?.name}-next-key`;
}
