// Helpers shared by the pki modules: signatures, names, IP address normalisation and the
// mapping of cert-manager usages to X.509 extensions. Only normalizeIp is public (index.ts).
import { createHash, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { BIT_STRING, children, der, NULL, oid, SEQUENCE, signedParts, single } from './der.js';
import { PkiError } from './pem.js';
import type { KeyUsage, PrivateKeySpec } from './spec.js';

export interface SignatureAlgorithm {
  /** Digest for node:crypto sign/verify; null for Ed25519, which hashes internally. */
  hash: string | null;
  /** DER AlgorithmIdentifier, as it goes in the signed structure. */
  identifier: Buffer;
}

/**
 * The signature algorithm a key makes: ECDSA with the hash growing with the curve (as Go and
 * OpenSSL pick it), RSA PKCS#1 v1.5 with SHA-256, Ed25519.
 */
export function signatureAlgorithmFor(spec: PrivateKeySpec): SignatureAlgorithm {
  switch (spec.algorithm) {
    case 'ECDSA': {
      const [hash, id] =
        spec.size === 384
          ? ['sha384', '1.2.840.10045.4.3.3']
          : spec.size === 521
            ? ['sha512', '1.2.840.10045.4.3.4']
            : ['sha256', '1.2.840.10045.4.3.2'];
      return { hash, identifier: der(SEQUENCE, oid(id)) };
    }
    case 'RSA':
      // sha256WithRSAEncryption, whose parameters are an explicit NULL (RFC 4055).
      return { hash: 'sha256', identifier: der(SEQUENCE, oid('1.2.840.113549.1.1.11'), der(NULL)) };
    case 'Ed25519':
      return { hash: null, identifier: der(SEQUENCE, oid('1.3.101.112')) };
  }
}

/**
 * The signed structure `SEQUENCE { tbs, algorithm, BIT STRING signature }`. node:crypto's
 * ECDSA signatures are DER (r, s) already, the form X.509 wants.
 */
export function signDer(tbs: Buffer, algorithm: SignatureAlgorithm, key: KeyObject): Buffer {
  const signature = sign(algorithm.hash, tbs, key);
  return der(SEQUENCE, tbs, algorithm.identifier, der(BIT_STRING, Buffer.from([0]), signature));
}

/** The signature algorithms we verify, by DER OID: [key type, digest]. */
const VERIFIABLE = new Map<string, [string, string | null]>(
  (
    [
      ['1.2.840.10045.4.3.2', 'ec', 'sha256'],
      ['1.2.840.10045.4.3.3', 'ec', 'sha384'],
      ['1.2.840.10045.4.3.4', 'ec', 'sha512'],
      ['1.2.840.113549.1.1.11', 'rsa', 'sha256'],
      ['1.2.840.113549.1.1.12', 'rsa', 'sha384'],
      ['1.2.840.113549.1.1.13', 'rsa', 'sha512'],
      ['1.3.101.112', 'ed25519', null],
    ] as const
  ).map(([id, keyType, hash]) => [oid(id).toString('hex'), [keyType, hash]]),
);

/**
 * Whether a signed structure (CSR, certificate) verifies with `publicKey`. The key must be of
 * the type the algorithm names; algorithms we never produce (RSA-PSS, ...) count as invalid.
 */
export function verifyDer(encoded: Buffer, publicKey: KeyObject): boolean {
  try {
    const { tbs, algorithm, signature } = signedParts(encoded);
    const [id] = children(algorithm, 1);
    const known = id && VERIFIABLE.get(id.raw.toString('hex'));
    if (!known || known[0] !== publicKey.asymmetricKeyType) return false;
    return verify(known[1], tbs, publicKey, signature);
  } catch {
    // A malformed structure is as good as a bad signature.
    return false;
  }
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits, as hex for the extensions. */
export function keyIdentifier(spki: Buffer): string {
  const [, bits] = children(single(spki, SEQUENCE).content, 2);
  if (bits?.tag !== BIT_STRING) throw new PkiError('not a SubjectPublicKeyInfo');
  return createHash('sha1').update(bits.content.subarray(1)).digest('hex');
}

/** A node:crypto public key from @peculiar/x509's. */
export function spkiKey(publicKey: x509.PublicKey): KeyObject {
  return createPublicKey({ key: Buffer.from(publicKey.rawData), format: 'der', type: 'spki' });
}

/** DER subject Name holding just the CN (UTF8String, as RFC 5280 asks of new certificates). */
export function subjectName(commonName: string | undefined): Buffer {
  // The object form: @peculiar/x509 parses a plain string value as DN syntax (`a, b=c`).
  const name = commonName ? [{ CN: [{ utf8String: commonName }] }] : [];
  return Buffer.from(new x509.Name(name).toArrayBuffer());
}

/** PEM with a final newline, so that blocks concatenate into a valid bundle. */
export function toPem(der: Buffer, label: string): string {
  return `${x509.PemConverter.encode(der, label).trim()}\n`;
}

/**
 * Validates an IP address and returns its canonical text, which is what certificates and CSRs
 * read back: compare spec addresses through it. IPv6 goes through the WHATWG URL serialiser
 * (lowercase, compressed, RFC 5952 style), also because @peculiar/x509's IPv6 parser knows
 * neither embedded IPv4 (`::ffff:1.2.3.4`) nor zones.
 */
export function normalizeIp(ip: string): string {
  const version = isIP(ip);
  if (version === 4) return ip;
  if (version === 6 && !ip.includes('%')) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
}

export function subjectAltNames(dnsNames: string[], ipAddresses: string[]): x509.JsonGeneralName[] {
  return [
    ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...ipAddresses.map((ip) => ({ type: 'ip' as const, value: normalizeIp(ip) })),
  ];
}

/** DNS and IP names of a SAN extension, in order; other name types are not ours to copy. */
export function namesOf(extensions: readonly x509.Extension[]): {
  dnsNames: string[];
  ipAddresses: string[];
} {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const ext of extensions) {
    if (!(ext instanceof x509.SubjectAlternativeNameExtension)) continue;
    for (const name of ext.names.items) {
      if (name.type === 'dns') dnsNames.push(name.value);
      else if (name.type === 'ip') ipAddresses.push(name.value);
    }
  }
  return { dnsNames, ipAddresses };
}

const KEY_USAGE_FLAGS: Partial<Record<KeyUsage, x509.KeyUsageFlags>> = {
  'digital signature': x509.KeyUsageFlags.digitalSignature,
  'key encipherment': x509.KeyUsageFlags.keyEncipherment,
  'cert sign': x509.KeyUsageFlags.keyCertSign,
  'crl sign': x509.KeyUsageFlags.cRLSign,
};
const EXTENDED_KEY_USAGES: Partial<Record<KeyUsage, string>> = {
  'server auth': x509.ExtendedKeyUsage.serverAuth,
  'client auth': x509.ExtendedKeyUsage.clientAuth,
};

/** keyUsage (critical, as RFC 5280 asks) and extKeyUsage extensions for cert-manager usages. */
export function usageExtensions(usages: readonly KeyUsage[]): x509.Extension[] {
  let flags = 0;
  const extended: string[] = [];
  for (const usage of usages) {
    const flag = KEY_USAGE_FLAGS[usage];
    const oid = EXTENDED_KEY_USAGES[usage];
    if (flag !== undefined) flags |= flag;
    else if (oid !== undefined) extended.push(oid);
    else throw new Error(`unsupported usage ${JSON.stringify(usage)}`);
  }
  const extensions: x509.Extension[] = [];
  // An empty keyUsage bit string would forbid everything; leave the extension out instead.
  if (flags !== 0) extensions.push(new x509.KeyUsagesExtension(flags, true));
  if (extended.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(extended, false));
  return extensions;
}

/** The cert-manager usages a certificate's keyUsage and extKeyUsage extensions grant. */
export function usagesOf(extensions: readonly x509.Extension[]): KeyUsage[] {
  const usages: KeyUsage[] = [];
  for (const ext of extensions) {
    if (ext instanceof x509.KeyUsagesExtension) {
      for (const [usage, flag] of Object.entries(KEY_USAGE_FLAGS)) {
        if (flag !== undefined && (ext.usages & flag) !== 0) usages.push(usage as KeyUsage);
      }
    } else if (ext instanceof x509.ExtendedKeyUsageExtension) {
      for (const [usage, oid] of Object.entries(EXTENDED_KEY_USAGES)) {
        if (ext.usages.includes(oid as string)) usages.push(usage as KeyUsage);
      }
    }
  }
  return usages;
}
