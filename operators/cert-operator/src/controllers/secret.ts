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

const b64 = (s: string) => Buffer.from(s).toString('base64');

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

/**
 * The TLS Secret for a Certificate, as this operator owns it (server-side apply): type
 * kubernetes.io/tls, `tls.crt` (leaf + chain), `tls.key` (PKCS#8), `ca.crt` when known,
 * the managed label (the only Secrets the operator caches), and annotations naming the
 * Certificate, issuer and names, like cert-manager's.
 */
export function tlsSecret(
  cert: Certificate,
  pem: { certificate: string; key: string; ca?: string },
): Secret {
  const spec = cert.spec;
  const issuerKind = spec.issuerRef.kind ?? 'Issuer';
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: spec.secretName,
      namespace: cert.metadata?.namespace,
      labels: { ...spec.secretTemplate?.labels, [LABEL_MANAGED]: 'true' },
      annotations: {
        ...spec.secretTemplate?.annotations,
        [ANNOTATION_CERTIFICATE]: cert.metadata?.name ?? '',
        [ANNOTATION_ISSUER]: spec.issuerRef.name,
        [ANNOTATION_ISSUER_KIND]: issuerKind,
        [ANNOTATION_ALT_NAMES]: (spec.dnsNames ?? []).join(','),
        [ANNOTATION_IP_SANS]: (spec.ipAddresses ?? []).join(','),
        [ANNOTATION_COMMON_NAME]: spec.commonName ?? '',
      },
    },
    data: {
      'tls.crt': b64(pem.certificate),
      'tls.key': b64(pem.key),
      ...(pem.ca ? { 'ca.crt': b64(pem.ca) } : {}),
    },
  };
}

/**
 * The Secret as tlsSecret writes it with the certificate it holds, when a label or
 * annotation it should carry is missing or differs (a secretTemplate edited, the names of
 * the annotations changed): applying it mends the metadata without issuing again. A key
 * merely dropped from secretTemplate is not seen here; the next apply removes it.
 */
export function secretWithStaleMetadata(cert: Certificate, secret: Secret): Secret | undefined {
  const certificate = secretValue(secret, 'tls.crt');
  const key = secretValue(secret, 'tls.key');
  if (certificate === undefined || key === undefined) return undefined;
  const ca = secretValue(secret, 'ca.crt');
  const wanted = tlsSecret(cert, { certificate, key, ...(ca !== undefined ? { ca } : {}) });
  const differs = (want: Record<string, string> = {}, have: Record<string, string> = {}) =>
    Object.entries(want).some(([k, v]) => have[k] !== v);
  const stale =
    differs(wanted.metadata?.labels, secret.metadata?.labels) ||
    differs(wanted.metadata?.annotations, secret.metadata?.annotations);
  return stale ? wanted : undefined;
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
