import { createPublicKey, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { children, context, der, INTEGER, oid, SEQUENCE, SET, signedParts, single } from './der.js';
import { keySpecOfKeyObject, parsePrivateKey, publicKeyDer } from './keys.js';
import { PkiError, pemToDer } from './pem.js';
import {
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

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

export interface CsrOptions {
  /** The key to certify (and that signs the request), any PEM form keySpecOf reads. */
  privateKeyPem: string;
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** Requested usages; left out, the signer picks its defaults. */
  usages?: KeyUsage[];
  isCA?: boolean;
}

export interface ParsedCsr {
  commonName?: string;
  dnsNames: string[];
  ipAddresses: string[];
  publicKey: KeyObject;
}

/**
 * A PEM PKCS#10 request asking for the names as a subjectAltName extension request, signed with
 * ECDSA SHA-256/384 by curve, RSA PKCS#1 v1.5 SHA-256 or Ed25519, following the key.
 *
 * Synchronous, like signing: @peculiar/x509 encodes the name and extensions, node:crypto signs.
 */
export function createCsr(options: CsrOptions): string {
  const { commonName, dnsNames, ipAddresses } = options;
  if (!commonName && dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error('a certificate request needs a commonName, a DNS name or an IP address');
  }
  const key = parsePrivateKey(options.privateKeyPem);
  const algorithm = signatureAlgorithmFor(keySpecOfKeyObject(key));

  const extensions: x509.Extension[] = [];
  const names = subjectAltNames(dnsNames, ipAddresses);
  if (names.length > 0) {
    // RFC 5280 4.2.1.6: with an empty subject the SANs are the identity, so critical.
    extensions.push(new x509.SubjectAlternativeNameExtension(names, !commonName));
  }
  if (options.usages) extensions.push(...usageExtensions(options.usages));
  if (options.isCA) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));

  // RFC 2986: CertificationRequestInfo, with the extensions in one extensionRequest attribute.
  const attributes =
    extensions.length === 0
      ? []
      : [
          der(
            SEQUENCE,
            oid(EXTENSION_REQUEST),
            der(SET, der(SEQUENCE, ...extensions.map((e) => Buffer.from(e.rawData)))),
          ),
        ];
  const info = der(
    SEQUENCE,
    der(INTEGER, Buffer.from([0])),
    subjectName(commonName),
    publicKeyDer(key),
    // attributes [0] IMPLICIT SET OF Attribute
    der(context(0), ...attributes),
  );
  return toPem(signDer(info, algorithm, key), 'CERTIFICATE REQUEST');
}

/** Names and public key of a PEM CSR. Does not check its signature: see verifyCsr. */
export function parseCsr(pem: string): ParsedCsr {
  const csr = readCsr(pem);
  try {
    const commonName = csr.subjectName.getField('CN')[0];
    return {
      ...(commonName !== undefined && { commonName }),
      ...namesOf(csr.extensions),
      publicKey: csrPublicKey(pem),
    };
  } catch (err) {
    throw new PkiError(`not a usable certificate request: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The public key of a PEM CSR, read from its DER headers without decoding the rest: a few
 * microseconds where a whole parse takes milliseconds.
 */
export function csrPublicKey(pem: string): KeyObject {
  try {
    const { tbs } = signedParts(pemToDer(pem, 'CERTIFICATE REQUEST'));
    // CertificationRequestInfo (RFC 2986): version, subject, subjectPKInfo, attributes.
    const [, , spki] = children(single(tbs, SEQUENCE).content, 3);
    if (spki?.tag !== SEQUENCE) throw new PkiError('no subjectPKInfo');
    return createPublicKey({ key: spki.raw, format: 'der', type: 'spki' });
  } catch (err) {
    throw new PkiError(`not a usable certificate request: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Whether the CSR is signed by the key it carries (proof the requester holds that key). */
export function verifyCsr(pem: string): boolean {
  const csr = readCsr(pem);
  let publicKey: KeyObject;
  try {
    publicKey = spkiKey(csr.publicKey);
  } catch {
    // A key node:crypto cannot load cannot have signed anything we can check.
    return false;
  }
  return verifyDer(Buffer.from(csr.rawData), publicKey);
}

export function readCsr(pem: string): x509.Pkcs10CertificateRequest {
  const der = pemToDer(pem, 'CERTIFICATE REQUEST');
  try {
    return new x509.Pkcs10CertificateRequest(der);
  } catch (err) {
    throw new PkiError(`not a PEM certificate request: ${(err as Error).message}`, { cause: err });
  }
}
