export {
  type CertificateInfo,
  type ChainVerification,
  defaultRenewalTime,
  inspectCertificate,
  keyMatchesCertificate,
  type ParsedCertificate,
  parseCertificate,
  splitPem,
  verifyChain,
} from './certificate.js';
export { type CsrOptions, createCsr, type ParsedCsr, parseCsr, verifyCsr } from './csr.js';
export {
  generatePrivateKey,
  keyMatchesPublicKey,
  keySpecOf,
  keySpecOfKeyObject,
} from './keys.js';
export { PkiError } from './pem.js';
export { normalizeIp } from './shared.js';
export { type SignOptions, signCertificate } from './sign.js';
export { KEY_USAGES, type KeyAlgorithm, type KeyUsage, type PrivateKeySpec } from './spec.js';
