import type { Secret } from '@chousei/runtime';
import {
  ANNOTATION_ALT_NAMES,
  ANNOTATION_CERTIFICATE,
  ANNOTATION_COMMON_NAME,
  ANNOTATION_IP_SANS,
  ANNOTATION_ISSUER,
  ANNOTATION_ISSUER_KIND,
  type Certificate,
  LABEL_MANAGED,
} from '../api/types.js';
import { splitPem } from '../pki/index.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/**
 * The most bytes the operator reads from one Secret value. Keys, certificate chains and
 * credentials are a few KB; a bundle of every public root CA about 220 KB. Whoever may write
 * a Secret the operator reads must not be able to make it parse megabytes.
 */
export const MAX_SECRET_VALUE_BYTES = 256 * 1024;

/** A Secret value over MAX_SECRET_VALUE_BYTES: refused before it is decoded. */
export class SecretValueTooLargeError extends Error {
  override name = 'SecretValueTooLargeError';
  constructor(
    /** `namespace/name` */
    readonly secret: string,
    readonly key: string,
    readonly bytes: number,
  ) {
    super(
      `Secret ${secret} key "${key}" holds ${bytes} bytes, over the limit of ${MAX_SECRET_VALUE_BYTES} (256 KiB) the operator reads`,
    );
  }
}

/**
 * Decodes one key of a Secret's data, or undefined. Every Secret value the operator reads
 * comes through here: a value over MAX_SECRET_VALUE_BYTES throws SecretValueTooLargeError.
 */
export function secretValue(secret: Secret | undefined, key: string): string | undefined {
  const v = secret?.data?.[key];
  if (v === undefined) return undefined;
  // The decoded size, computed from the base64 text without decoding it.
  const bytes = Buffer.byteLength(v, 'base64');
  if (bytes > MAX_SECRET_VALUE_BYTES) {
    const { namespace, name } = secret?.metadata ?? {};
    throw new SecretValueTooLargeError(`${namespace ?? ''}/${name ?? ''}`, key, bytes);
  }
  return Buffer.from(v, 'base64').toString('utf8');
}

/** The labels and annotations of a Certificate's TLS Secret, as tlsSecret writes them. */
function tlsSecretMetadata(cert: Certificate) {
  const spec = cert.spec;
  return {
    labels: { ...spec.secretTemplate?.labels, [LABEL_MANAGED]: 'true' },
    annotations: {
      ...spec.secretTemplate?.annotations,
      [ANNOTATION_CERTIFICATE]: cert.metadata?.name ?? '',
      [ANNOTATION_ISSUER]: spec.issuerRef.name,
      [ANNOTATION_ISSUER_KIND]: spec.issuerRef.kind ?? 'Issuer',
      [ANNOTATION_ALT_NAMES]: (spec.dnsNames ?? []).join(','),
      [ANNOTATION_IP_SANS]: (spec.ipAddresses ?? []).join(','),
      [ANNOTATION_COMMON_NAME]: spec.commonName ?? '',
    },
  };
}

/** What a TLS Secret holds, decoded. */
export interface TlsPems {
  certificate: string;
  key: string;
  ca?: string;
}

/**
 * The TLS Secret for a Certificate, as this operator owns it (server-side apply): type
 * kubernetes.io/tls, `tls.crt` (leaf + chain), `tls.key` (PKCS#8), `ca.crt` when known,
 * the managed label (the only Secrets the operator caches), and annotations naming the
 * Certificate, issuer and names, like cert-manager's.
 */
export function tlsSecret(cert: Certificate, pem: TlsPems): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: TLS_SECRET_TYPE,
    metadata: {
      name: cert.spec.secretName,
      namespace: cert.metadata?.namespace,
      ...tlsSecretMetadata(cert),
    },
    data: {
      'tls.crt': b64(pem.certificate),
      'tls.key': b64(pem.key),
      ...(pem.ca ? { 'ca.crt': b64(pem.ca) } : {}),
    },
  };
}

/** What a TLS Secret holds, read whole (from the API: the cache keeps the leaf only). */
export function tlsPems(secret: Secret): TlsPems | undefined {
  const certificate = secretValue(secret, 'tls.crt');
  const key = secretValue(secret, 'tls.key');
  if (certificate === undefined || key === undefined) return undefined;
  const ca = secretValue(secret, 'ca.crt');
  return { certificate, key, ...(ca !== undefined ? { ca } : {}) };
}

/**
 * Whether a label or annotation tlsSecret writes is missing from the Secret or differs (a
 * secretTemplate edited, the names of the annotations changed): writing it again mends the
 * metadata without issuing again. A key merely dropped from secretTemplate is not seen
 * here; the next write removes it.
 */
export function secretMetadataStale(cert: Certificate, secret: Secret): boolean {
  const wanted = tlsSecretMetadata(cert);
  const differs = (want: Record<string, string>, have: Record<string, string> = {}) =>
    Object.entries(want).some(([k, v]) => have[k] !== v);
  return (
    differs(wanted.labels, secret.metadata?.labels) ||
    differs(wanted.annotations, secret.metadata?.annotations)
  );
}

/**
 * A managed Secret as the Certificate controller caches it: metadata, type, tls.key and the
 * leaf of tls.crt, which is all a reconcile reads. The chain and ca.crt are most of the
 * bytes (a CA issuer's chain doubles tls.crt, and ca.crt repeats the CA), read only to
 * write the Secret whole, which reads it from the API first.
 */
export function cachedSecret(secret: Secret): Secret {
  // One shared string instead of a copy per object.
  if (secret.type === TLS_SECRET_TYPE) secret.type = TLS_SECRET_TYPE;
  const data = secret.data;
  if (!data) return secret;
  const certificate = data['tls.crt'];
  const key = data['tls.key'];
  const kept: Record<string, string> = {};
  if (certificate !== undefined) kept['tls.crt'] = leafOf(certificate);
  if (key !== undefined) kept['tls.key'] = key;
  secret.data = kept;
  return secret;
}

/**
 * The first certificate of a base64 tls.crt, as the parsers read it (splitPem), encoded
 * again. The value as it is when there is nothing to cut, or it is over the read limit, so
 * the reconcile reads what the Secret holds and refuses it as it would.
 */
function leafOf(value: string): string {
  if (Buffer.byteLength(value, 'base64') > MAX_SECRET_VALUE_BYTES) return value;
  const bundle = Buffer.from(value, 'base64').toString('utf8');
  const leaf = splitPem(bundle)[0];
  return leaf === undefined || leaf.length === bundle.length ? value : b64(leaf);
}

/** The Secret that holds the key of an issuance in progress, so a restart reuses it. */
export function nextKeySecret(cert: Certificate, name: string, keyPem: string): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace: cert.metadata?.namespace,
      labels: { [LABEL_MANAGED]: 'true' },
      annotations: { [ANNOTATION_CERTIFICATE]: cert.metadata?.name ?? '' },
      ownerReferences: [
        {
          apiVersion: cert.apiVersion ?? 'cert.chousei.dev/v1alpha1',
          kind: 'Certificate',
          name: cert.metadata?.name ?? '',
          uid: cert.metadata?.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    data: { 'tls.key': b64(keyPem) },
  };
}
