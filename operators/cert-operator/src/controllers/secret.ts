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
import { ariCertIdOfInfo } from '../issuers/acme/ari.js';
import {
  type CertificateInfo,
  keyMatchesPublicKey,
  type PrivateKeySpec,
  parseCertificate,
} from '../pki/index.js';

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

/** What a TLS Secret holds, read whole (from the API: the cache keeps none of it). */
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
 * What a reconcile reads of the certificate in a TLS Secret: its leaf, parsed. One is cached
 * per managed Secret, so it is kept small: times as numbers (a Date is about 100 bytes),
 * arrays of their exact length, key types shared.
 */
export interface StoredCertificate {
  commonName?: string;
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  keyAlgorithm: PrivateKeySpec;
  /** Unix ms. */
  notBefore: number;
  /** Unix ms. */
  notAfter: number;
  /** tls.key is the key of this certificate. */
  keyMatches: boolean;
  /** Its ARI certificate ID (RFC 9773); unset without an authority key identifier. */
  renewalInfoId?: string;
}

/** Why a Secret's content cannot be used: a reason to issue (an IssuanceNeed). */
export interface UnusableSecret {
  reason: 'DoesNotExist' | 'InvalidCertificate';
  message: string;
}

/** What a Certificate's Secret holds: a sound certificate and key, or why not. */
export type SecretContents = { certificate: StoredCertificate } | { unusable: UnusableSecret };

const missing = (name: string | undefined): { unusable: UnusableSecret } => ({
  unusable: {
    reason: 'DoesNotExist',
    message: `Secret ${name ?? ''} does not exist or lacks tls.crt/tls.key`,
  },
});

/** Where a cached managed Secret keeps its contents, read when it was cached. */
const CONTENTS = Symbol('tls contents');
type CachedSecret = Secret & { readonly [CONTENTS]?: SecretContents };

/**
 * What a Certificate's Secret (`secretName`) holds: read when it was cached, else from its
 * data (a Secret read from the API).
 */
export function readSecret(secretName: string, secret: Secret | undefined): SecretContents {
  if (!secret) return missing(secretName);
  return (secret as CachedSecret)[CONTENTS] ?? contentsOf(secret);
}

/** Reads and parses tls.crt and tls.key. */
function contentsOf(secret: Secret): SecretContents {
  let certPem: string | undefined;
  let keyPem: string | undefined;
  try {
    certPem = secretValue(secret, 'tls.crt');
    keyPem = secretValue(secret, 'tls.key');
  } catch (err) {
    // Replaced by a new issuance like any other unreadable content.
    if (err instanceof SecretValueTooLargeError)
      return { unusable: { reason: 'InvalidCertificate', message: err.message } };
    throw err;
  }
  if (!certPem || !keyPem) return missing(secret.metadata?.name);
  let parsed: ReturnType<typeof parseCertificate>;
  try {
    parsed = parseCertificate(certPem);
  } catch (err) {
    const message = `tls.crt cannot be read: ${(err as Error).message}`;
    return { unusable: { reason: 'InvalidCertificate', message } };
  }
  let keyMatches = false;
  try {
    keyMatches = keyMatchesPublicKey(keyPem, parsed.publicKey);
  } catch {}
  return { certificate: storedCertificate(parsed.info, keyMatches) };
}

/** The record of a parsed leaf; `keyMatches`: tls.key is its key. */
function storedCertificate(info: CertificateInfo, keyMatches: boolean): StoredCertificate {
  const { commonName, dnsNames, ipAddresses, keyAlgorithm, notBefore, notAfter } = info;
  const renewalInfoId = ariCertIdOfInfo(info);
  return {
    ...(commonName !== undefined ? { commonName } : {}),
    dnsNames: exactly(dnsNames),
    ipAddresses: exactly(ipAddresses),
    keyAlgorithm: sharedKeySpec(keyAlgorithm),
    notBefore: notBefore.getTime(),
    notAfter: notAfter.getTime(),
    keyMatches,
    ...(renewalInfoId !== undefined ? { renewalInfoId } : {}),
  };
}

const NONE: readonly string[] = Object.freeze([]);
/** A copy as long as its elements (an array grown by push keeps room for more), or NONE. */
const exactly = (xs: readonly string[]) => (xs.length === 0 ? NONE : xs.slice());

// A few key types in any cluster; bounded, as a tenant's Secrets may hold odd RSA sizes.
const keySpecs = new Map<string, PrivateKeySpec>();
function sharedKeySpec(spec: PrivateKeySpec): PrivateKeySpec {
  const key = `${spec.algorithm}/${spec.size ?? ''}`;
  const known = keySpecs.get(key);
  if (known) return known;
  if (keySpecs.size < 64) keySpecs.set(key, spec);
  return spec;
}

/**
 * A managed Secret as the Certificate controller caches it: a TLS Secret keeps its metadata
 * and, in place of its data, what a reconcile reads of it, parsed once here rather than at
 * every reconcile (a CA issuer's 3.9 KB of PEMs become about 0.4 KB), or `known` already. A
 * write that needs the PEMs reads the Secret from the API. Other managed Secrets (next keys)
 * are kept whole.
 */
export function cachedSecret(secret: Secret, known?: SecretContents): Secret {
  // One shared string instead of a copy per object.
  if (secret.type === TLS_SECRET_TYPE) secret.type = TLS_SECRET_TYPE;
  if (secret.data?.['tls.crt'] === undefined) return secret;
  const contents = known ?? contentsOf(secret);
  // Built whole: a property added to a copy (or a `delete`) makes a hash table of it.
  const { apiVersion, kind, metadata, type } = secret;
  const cached: CachedSecret = { apiVersion, kind, metadata, type, [CONTENTS]: contents };
  return cached;
}

/** At most this many records wait for their Secret's watch event (about one per worker). */
const MAX_WRITTEN = 256;

/**
 * The managed-Secret cache's transform, told of the TLS Secrets this operator writes: such a
 * Secret's watch event is cached with the record made from the issuance's own parse instead
 * of parsing the certificate again (milliseconds each without the optimizing compiler). A
 * record depends only on tls.crt and tls.key, so one left by a failed write is never wrong;
 * the oldest go first.
 */
export class SecretRecords {
  private readonly written = new Map<string, { tlsKey: string; contents: SecretContents }>();

  /** `secret`, about to be written, holds the certificate `info` says and its key. */
  writing(secret: Secret, info: CertificateInfo): void {
    const crt = secret.data?.['tls.crt'];
    const tlsKey = secret.data?.['tls.key'];
    if (crt === undefined || tlsKey === undefined) return;
    if (this.written.size >= MAX_WRITTEN) this.written.delete(this.written.keys().next().value!);
    this.written.set(crt, { tlsKey, contents: { certificate: storedCertificate(info, true) } });
  }

  /** cachedSecret, with the record of a Secret written here when it is one. */
  readonly transform = (secret: Secret): Secret => cachedSecret(secret, this.take(secret));

  private take(secret: Secret): SecretContents | undefined {
    const crt = secret.data?.['tls.crt'];
    const entry = crt === undefined ? undefined : this.written.get(crt);
    if (!entry) return undefined;
    this.written.delete(crt!);
    return entry.tlsKey === secret.data?.['tls.key'] ? entry.contents : undefined;
  }
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
