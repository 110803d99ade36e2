import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { keyMatchesPublicKey, keySpecOfKeyObject } from './keys.js';
import { PkiError, pemToDer, splitPem } from './pem.js';
import { namesOf, spkiKey, usagesOf } from './shared.js';
import type { KeyUsage, PrivateKeySpec } from './spec.js';

export { splitPem };

export interface CertificateInfo {
  /** `O=Org, CN=example.com`: attributes in encoded order, values escaped as in RFC 4514. */
  subject: string;
  commonName?: string;
  issuer: string;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
  /** Lowercase hex, no leading zero octet. */
  serialNumber: string;
  /** The authority key identifier's keyIdentifier, lowercase hex; unset without one. */
  authorityKeyId?: string;
  isCA: boolean;
  /** Usages granted by keyUsage and extKeyUsage, in cert-manager's names (others left out). */
  usages: KeyUsage[];
  keyAlgorithm: PrivateKeySpec;
  /** SHA-256 of the DER, uppercase colon-separated like `openssl x509 -fingerprint -sha256`. */
  fingerprintSha256: string;
}

export interface ChainVerification {
  valid: boolean;
  reason?: string;
}

/** What a PEM bundle's first certificate (the leaf of a chain) says. */
export function inspectCertificate(pem: string): CertificateInfo {
  return parseCertificate(pem).info;
}

/** A leaf parsed once: what it says, and its public key to match a private key against. */
export interface ParsedCertificate {
  info: CertificateInfo;
  publicKey: KeyObject;
}

export function parseCertificate(pem: string): ParsedCertificate {
  const der = pemToDer(pem);
  try {
    const cert = new x509.X509Certificate(der);
    const publicKey = spkiKey(cert.publicKey);
    return { info: certificateInfo(cert, der, publicKey), publicKey };
  } catch (err) {
    // Whatever the parser or a field reader tripped on in a hostile certificate.
    throw new PkiError(`not a valid certificate: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Whether the private key belongs to the (first) certificate of the PEM: compares the DER
 * SubjectPublicKeyInfo, which is exact for every key type. Throws PkiError when either PEM
 * does not parse.
 */
export function keyMatchesCertificate(keyPem: string, certPem: string): boolean {
  return keyMatchesPublicKey(keyPem, parseCertificate(certPem).publicKey);
}

function certificateInfo(
  cert: x509.X509Certificate,
  der: Buffer,
  publicKey: KeyObject,
): CertificateInfo {
  const commonName = cert.subjectName.getField('CN')[0];
  return {
    subject: cert.subject,
    ...(commonName !== undefined && { commonName }),
    issuer: cert.issuer,
    ...namesOf(cert.extensions),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialNumber: cert.serialNumber.toLowerCase(),
    ...authorityKeyIdOf(cert),
    isCA: cert.getExtension(x509.BasicConstraintsExtension)?.ca ?? false,
    usages: usagesOf(cert.extensions),
    keyAlgorithm: keySpecOfKeyObject(publicKey),
    fingerprintSha256: createHash('sha256')
      .update(der)
      .digest('hex')
      .toUpperCase()
      .replace(/(..)(?!$)/g, '$1:'),
  };
}

/**
 * Whether `bundlePem` (leaf first) chains to `rootPem` at time `at`: each certificate is issued
 * (names, key identifiers and signature) by the next, the last by the root, every issuer is a
 * CA, and all of them, root included, are within their validity. A bundle that ends with the
 * root itself is fine: the anchor is trusted as given.
 */
export function verifyChain(
  bundlePem: string,
  rootPem: string,
  at = new Date(),
): ChainVerification {
  let chain: X509Certificate[];
  let root: X509Certificate;
  try {
    chain = splitPem(bundlePem).map((pem) => new X509Certificate(pem));
    const rootBlock = splitPem(rootPem)[0];
    if (rootBlock === undefined)
      return { valid: false, reason: 'the root PEM holds no certificate' };
    root = new X509Certificate(rootBlock);
  } catch (err) {
    return { valid: false, reason: `cannot parse a certificate: ${(err as Error).message}` };
  }
  if (chain.length === 0) return { valid: false, reason: 'the bundle holds no certificate' };
  if (chain.at(-1)?.raw.equals(root.raw)) chain.pop();

  const path = [...chain, root];
  const label = (i: number) =>
    i === chain.length
      ? `root (${nameOf(root.subject)})`
      : `certificate ${i + 1} (${nameOf(path[i]!.subject)})`;
  for (const [i, cert] of path.entries()) {
    const expired = validityProblem(cert, at);
    if (expired) return { valid: false, reason: `${label(i)} ${expired}` };
    if (i === chain.length) break;
    const issuer = path[i + 1]!;
    if (!issuer.ca) return { valid: false, reason: `${label(i + 1)} is not a CA` };
    if (!cert.checkIssued(issuer)) {
      return { valid: false, reason: `${label(i)} was not issued by ${label(i + 1)}` };
    }
    if (!verifiesWith(cert, issuer)) {
      return { valid: false, reason: `${label(i)} has a signature ${label(i + 1)} did not make` };
    }
  }
  return { valid: true };
}

/**
 * When to renew, cert-manager's rule: `renewBeforeMs` ahead of notAfter when given and shorter
 * than the actual lifetime, else a third of that lifetime ahead. Whole seconds, because
 * cert-manager stores it in status that way and compares against the stored value.
 */
export function defaultRenewalTime(notBefore: Date, notAfter: Date, renewBeforeMs?: number): Date {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  const renewBefore =
    renewBeforeMs !== undefined && renewBeforeMs > 0 && renewBeforeMs < lifetime
      ? renewBeforeMs
      : lifetime / 3;
  return new Date(Math.floor((notAfter.getTime() - renewBefore) / 1000) * 1000);
}

function validityProblem(cert: X509Certificate, at: Date): string | undefined {
  // Node's validFrom/validTo strings (`Jan  2 03:04:05 2030 GMT`) parse as Date on every Node.
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  if (at < notBefore) return `is not valid before ${notBefore.toISOString()}`;
  if (at > notAfter) return `expired at ${notAfter.toISOString()}`;
  return undefined;
}

function verifiesWith(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    // Node throws instead of answering false for some key/signature type mismatches.
    return false;
  }
}

function nameOf(subject: string | undefined): string {
  // Node gives one attribute a line, and no string at all for an empty subject.
  return subject?.split('\n').join(', ') || 'empty subject';
}

function authorityKeyIdOf(cert: x509.X509Certificate): { authorityKeyId?: string } {
  const keyId = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  return keyId ? { authorityKeyId: keyId.toLowerCase() } : {};
}
