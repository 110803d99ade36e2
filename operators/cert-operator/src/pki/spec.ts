// What a certificate and its key may be, as a Certificate asks: the ground every layer
// above (api, issuers, controllers) names them from.

/** Key algorithms a Certificate may ask for. */
export type KeyAlgorithm = 'ECDSA' | 'RSA' | 'Ed25519';

export interface PrivateKeySpec {
  algorithm: KeyAlgorithm;
  /** ECDSA: 256 or 384; RSA: 2048, 3072 or 4096; ignored for Ed25519. */
  size?: number;
}

/** Extended/basic key usages, as cert-manager names them. */
export const KEY_USAGES = [
  'digital signature',
  'key encipherment',
  'server auth',
  'client auth',
  'cert sign',
  'crl sign',
] as const;
export type KeyUsage = (typeof KEY_USAGES)[number];
