import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { checkPemSize, PkiError } from './pem.js';
import type { PrivateKeySpec } from './spec.js';

const PKCS8 = { type: 'pkcs8', format: 'pem' } as const;
const SPKI = { type: 'spki', format: 'pem' } as const;

/** Sizes we generate. Reading back (keySpecOf) also knows P-521, which a user's CA key may use. */
const GENERATED_CURVES = new Map([
  [256, 'prime256v1'],
  [384, 'secp384r1'],
]);
const RSA_SIZES = [2048, 3072, 4096];
const CURVE_SIZES = new Map([
  ['prime256v1', 256],
  ['secp384r1', 384],
  ['secp521r1', 521],
]);

/**
 * A new private key as PKCS#8 PEM (what cert-manager writes to `tls.key` by default).
 * Defaults follow cert-manager: ECDSA P-256; RSA 2048 when only the algorithm is given.
 */
export function generatePrivateKey(spec: PrivateKeySpec = { algorithm: 'ECDSA' }): string {
  // A string, not the union: the spec comes from a CRD and may hold anything.
  const algorithm: string = spec.algorithm;
  switch (algorithm) {
    case 'ECDSA': {
      const size = spec.size ?? 256;
      const namedCurve = GENERATED_CURVES.get(size);
      if (!namedCurve) {
        throw new Error(`unsupported spec.privateKey.size ${size} for ECDSA (use 256 or 384)`);
      }
      return generateKeyPairSync('ec', {
        namedCurve,
        privateKeyEncoding: PKCS8,
        publicKeyEncoding: SPKI,
      }).privateKey;
    }
    case 'RSA': {
      const size = spec.size ?? 2048;
      if (!RSA_SIZES.includes(size)) {
        throw new Error(
          `unsupported spec.privateKey.size ${size} for RSA (use 2048, 3072 or 4096)`,
        );
      }
      return generateKeyPairSync('rsa', {
        modulusLength: size,
        privateKeyEncoding: PKCS8,
        publicKeyEncoding: SPKI,
      }).privateKey;
    }
    case 'Ed25519':
      return generateKeyPairSync('ed25519', { privateKeyEncoding: PKCS8, publicKeyEncoding: SPKI })
        .privateKey;
    default:
      throw new Error(
        `unsupported spec.privateKey.algorithm ${JSON.stringify(algorithm)} (use ECDSA, RSA or Ed25519)`,
      );
  }
}

/**
 * The algorithm and size of a private key PEM (PKCS#8, PKCS#1 `RSA PRIVATE KEY` or SEC1
 * `EC PRIVATE KEY`), to tell whether a stored key still matches the Certificate's spec.
 */
export function keySpecOf(pem: string): PrivateKeySpec {
  return keySpecOfKeyObject(parsePrivateKey(pem));
}

/** The same for a parsed key, public or private (certificates and CSRs carry public keys). */
export function keySpecOfKeyObject(key: KeyObject): PrivateKeySpec {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const size = CURVE_SIZES.get(curve);
      if (size === undefined) throw new PkiError(`unsupported ECDSA curve ${curve || '(unnamed)'}`);
      return { algorithm: 'ECDSA', size };
    }
    case 'rsa':
      return { algorithm: 'RSA', size: key.asymmetricKeyDetails?.modulusLength };
    case 'ed25519':
      return { algorithm: 'Ed25519' };
    default:
      throw new PkiError(`unsupported key type ${key.asymmetricKeyType ?? key.type}`);
  }
}

/** Whether `keyPem` is the private half of `publicKey` (a parsed certificate's). */
export function keyMatchesPublicKey(keyPem: string, publicKey: KeyObject): boolean {
  return publicKeyDer(parsePrivateKey(keyPem)).equals(publicKeyDer(publicKey));
}

/** DER SubjectPublicKeyInfo of a key (the public half when given a private key). */
export function publicKeyDer(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

export function parsePrivateKey(pem: string): KeyObject {
  checkPemSize(pem, 'private key');
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new PkiError(`not a usable private key PEM: ${(err as Error).message}`, { cause: err });
  }
}
