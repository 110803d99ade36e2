import { randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { readCsr } from './csr.js';
import { children, context, der, INTEGER, SEQUENCE, single, time } from './der.js';
import { keySpecOfKeyObject, parsePrivateKey, publicKeyDer } from './keys.js';
import { PkiError, pemToDer, splitPem } from './pem.js';
import {
  keyIdentifier,
  namesOf,
  signatureAlgorithmFor,
  signDer,
  spkiKey,
  subjectAltNames,
  subjectName,
  toPem,
  usageExtensions,
  verifyDer,
} from './shared.js';
import type { KeyUsage } from './spec.js';

export interface SignOptions {
  csrPem: string;
  /** The issuing CA's certificate (the first of the PEM); omitted when selfSigned. */
  issuerCertPem?: string;
  /** The issuing CA's key or, when selfSigned, the CSR's own key. */
  issuerKeyPem: string;
  durationMs: number;
  /** Empty: digital signature (+ key encipherment for RSA keys) and server auth. */
  usages: KeyUsage[];
  isCA?: boolean;
  selfSigned?: boolean;
  /** The clock, for tests and for callers that already read it. */
  now?: Date;
}

/** Validity starts this much early so that a peer whose clock lags a little accepts it. */
const BACKDATE_MS = 60_000;

/**
 * Signs a CSR into a PEM X.509 v3 certificate. The subject is only the CSR's CN and the SANs
 * only its DNS and IP names: the rest of a CSR is the requester's wish, which a CA does not copy
 * blindly. Validity never outlasts the issuer. Throws when the CSR signature is invalid, the key
 * does not match the issuer certificate (self-signed: the CSR), or the issuer has expired.
 *
 * Synchronous: @peculiar/x509 parses and encodes names and extensions, node:crypto signs (the
 * library's own generator signs through WebCrypto, which is async only).
 */
export function signCertificate(options: SignOptions): string {
  const now = options.now ?? new Date();
  if (!(options.durationMs > 0)) {
    throw new Error(`the duration must be positive, got ${options.durationMs} ms`);
  }

  const csr = readCsr(options.csrPem);
  const subjectKey = spkiKey(csr.publicKey);
  // Proof of possession: without it anyone could get a certificate for someone else's key.
  if (!verifyDer(Buffer.from(csr.rawData), subjectKey)) {
    throw new Error('the CSR signature is invalid: it was not made by the key the CSR carries');
  }
  const subjectSpec = keySpecOfKeyObject(subjectKey);
  const subjectSpki = publicKeyDer(subjectKey);
  const signerKey = parsePrivateKey(options.issuerKeyPem);
  const algorithm = signatureAlgorithmFor(keySpecOfKeyObject(signerKey));

  const commonName = csr.subjectName.getField('CN')[0];
  const subject = subjectName(commonName);
  let issuerName: Buffer;
  let notAfter = new Date(now.getTime() + options.durationMs);
  const extensions: x509.Extension[] = [];

  if (options.selfSigned) {
    if (options.issuerCertPem) {
      throw new Error('a self-signed certificate takes no issuer certificate');
    }
    if (!publicKeyDer(signerKey).equals(subjectSpki)) {
      throw new Error('self-signing needs the key of the CSR, but the given key is another');
    }
    issuerName = subject;
    // No authorityKeyIdentifier: as Go does, left out of self-signed ones (RFC 5280 allows).
  } else {
    const issuerPem = options.issuerCertPem ? splitPem(options.issuerCertPem)[0] : undefined;
    if (issuerPem === undefined) {
      throw new Error('an issuer certificate is required unless selfSigned');
    }
    const issuer = readCertificate(issuerPem);
    if (!publicKeyDer(signerKey).equals(publicKeyDer(spkiKey(issuer.publicKey)))) {
      throw new Error('the issuer key does not match the issuer certificate');
    }
    if (issuer.notAfter <= now) {
      throw new Error(`the issuer certificate expired at ${issuer.notAfter.toISOString()}`);
    }
    if (notAfter > issuer.notAfter) notAfter = issuer.notAfter;
    // The issuer's subject byte for byte, so that name chaining holds in every verifier.
    issuerName = subjectOf(Buffer.from(issuer.rawData));
    const issuerKeyId = issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    if (issuerKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(issuerKeyId));
  }

  const { dnsNames, ipAddresses } = namesOf(csr.extensions);
  const names = subjectAltNames(dnsNames, ipAddresses);
  if (names.length > 0) {
    // RFC 5280 4.2.1.6: with an empty subject the SANs are the identity, so critical.
    extensions.push(new x509.SubjectAlternativeNameExtension(names, !commonName));
  } else if (!commonName) {
    throw new Error('the CSR names nothing: no common name, DNS name or IP address');
  }
  extensions.push(new x509.BasicConstraintsExtension(options.isCA ?? false, undefined, true));
  extensions.push(...usageExtensions(effectiveUsages(options, subjectSpec.algorithm === 'RSA')));
  extensions.push(new x509.SubjectKeyIdentifierExtension(keyIdentifier(subjectSpki)));

  const tbs = der(
    SEQUENCE,
    der(context(0), der(INTEGER, Buffer.from([2]))), // version v3
    der(INTEGER, serialNumber()),
    algorithm.identifier,
    issuerName,
    der(SEQUENCE, time(new Date(now.getTime() - BACKDATE_MS)), time(notAfter)),
    subject,
    subjectSpki,
    der(context(3), der(SEQUENCE, ...extensions.map((e) => Buffer.from(e.rawData)))),
  );
  return toPem(signDer(tbs, algorithm, signerKey), 'CERTIFICATE');
}

function effectiveUsages(options: SignOptions, rsa: boolean): KeyUsage[] {
  let usages = options.usages;
  if (usages.length === 0) {
    // Key encipherment only means something for RSA key transport. A CA gets no server auth:
    // an extKeyUsage on a CA restricts every certificate below it in Go and Windows.
    usages = [
      'digital signature',
      ...(rsa ? (['key encipherment'] as const) : []),
      ...(options.isCA ? [] : (['server auth'] as const)),
    ];
  }
  // As cert-manager does: a CA certificate can always sign certificates.
  if (options.isCA && !usages.includes('cert sign')) usages = [...usages, 'cert sign'];
  return usages;
}

/** 16 random bytes as a positive, minimally encoded INTEGER (0x40 set, 0x80 clear: 126 bits). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | (bytes[0]! & 0x3f);
  return bytes;
}

function readCertificate(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pemToDer(pem));
  } catch (err) {
    throw new PkiError(`the issuer certificate cannot be read: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The raw subject Name of a DER certificate. */
function subjectOf(certificate: Buffer): Buffer {
  const [tbs] = children(single(certificate, SEQUENCE).content, 1);
  const fields = children(tbs?.content ?? Buffer.alloc(0), 6);
  // TBSCertificate: [0] version (absent in v1), serial, signature, issuer, validity, subject.
  const subject = fields[fields[0]?.tag === context(0) ? 5 : 4];
  if (!subject) throw new PkiError('the issuer certificate has no subject');
  return subject.raw;
}
