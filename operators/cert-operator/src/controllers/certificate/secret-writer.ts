import {
  type Client,
  ConflictError,
  type Informer,
  isNotFound,
  notFoundIsUndefined,
  type Secret,
  Secrets,
} from '@chousei/runtime';
import { ANNOTATION_CERTIFICATE, type Certificate } from '../../api/types.js';
import type { CertificateInfo } from '../../pki/index.js';
import { type SecretRefusal, secretRefusal } from '../ownership.js';
import { type SecretRecords, type TlsPems, tlsPems, tlsSecret } from '../secret.js';

export const FIELD_MANAGER = 'chousei-cert-operator';

/** Writes and deletes the TLS Secret of each Certificate, never one it is not to touch. */
export class SecretWriter {
  constructor(
    private readonly client: Client,
    private readonly secrets: Informer<Secret>,
    private readonly records: SecretRecords,
  ) {}

  /**
   * Writes the TLS Secret of an issued certificate (`info`: its leaf as parsed, which the
   * cache takes for the Secret's record); one not `known` is applied without force, so that a
   * Secret already there, written by anyone else, conflicts instead of being overwritten.
   * That one is read: written over when it is this Certificate's to take, else refused.
   */
  async write(
    cert: Certificate,
    { pems, info }: { pems: TlsPems; info: CertificateInfo },
    known: boolean,
  ): Promise<SecretRefusal | undefined> {
    const secret = tlsSecret(cert, pems);
    this.records.writing(secret, info);
    const write = (force: boolean) =>
      this.client.apply(Secrets, secret, { fieldManager: FIELD_MANAGER, force });
    try {
      await write(known);
      return undefined;
    } catch (err) {
      if (known || !(err instanceof ConflictError)) throw err;
    }
    const key = { namespace: cert.metadata?.namespace ?? '', name: cert.spec.secretName };
    const existing = await this.client.get(Secrets, key).catch(notFoundIsUndefined);
    const refusal = existing && secretRefusal(cert, existing);
    if (refusal) return refusal;
    await write(true);
    return undefined;
  }

  /**
   * Writes the labels and annotations of a Secret otherwise up to date, with what it holds
   * read from the API (the cache keeps only the leaf and the key). False when the Secret
   * is gone or emptied since: its watch event brings the Certificate back.
   */
  async mend(cert: Certificate): Promise<boolean> {
    const key = { namespace: cert.metadata?.namespace ?? '', name: cert.spec.secretName };
    const current = await this.client.get(Secrets, key).catch(notFoundIsUndefined);
    const pems = current && tlsPems(current);
    if (!pems) return false;
    const mended = tlsSecret(cert, pems);
    // Applied over the version read: a write in between makes this one fail, not undo it.
    mended.metadata = { ...mended.metadata, resourceVersion: current.metadata?.resourceVersion };
    await this.client.apply(Secrets, mended, { fieldManager: FIELD_MANAGER, force: true });
    return true;
  }

  /** The Certificate is deleted: its Secret goes too under secretDeletionPolicy Delete. */
  async cleanup(cert: Certificate): Promise<void> {
    if ((cert.spec.secretDeletionPolicy ?? 'Delete') !== 'Delete') return;
    const namespace = cert.metadata?.namespace ?? '';
    const secret = this.secrets.store.get(`${namespace}/${cert.spec.secretName}`);
    // Only a Secret this Certificate wrote: never one it merely names.
    if (secret?.metadata?.annotations?.[ANNOTATION_CERTIFICATE] !== cert.metadata?.name) return;
    await this.client
      .delete(Secrets, { namespace, name: cert.spec.secretName })
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  }
}
