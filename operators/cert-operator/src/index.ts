export * from './api/crds.js';
export * from './api/types.js';
export {
  backoffFromFlags,
  type CertOperatorConfig,
  ConfigError,
  clusterResourceNamespaceFromFlags,
  ENV_PREFIX,
  FLAGS,
  helpText,
  parseConfig,
  type ServingCertConfig,
} from './config.js';
// For tools that explain what the operator does (kubectl-chousei): its own rules, not copies.
export {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  failureBackoff,
  type IssuanceNeed,
  issuanceNeed,
  MANUAL_TRIGGER_REASON,
  manualIssuanceRequest,
  renewalTime,
  retryTime,
} from './controllers/policy.js';
export { DOMAIN_NOT_ALLOWED, NOT_ISSUED_REASONS } from './controllers/refusals.js';
export {
  MAX_SECRET_VALUE_BYTES,
  SecretValueTooLargeError,
  secretValue,
} from './controllers/secret.js';
export { registerACMEServer } from './issuers/acme/http.js';
export { ACMENetworkError, ACMEProblemError } from './issuers/acme/index.js';
export { type CertOperatorOptions, setupCertOperator } from './operator.js';
export {
  type CertificateInfo,
  type ChainVerification,
  inspectCertificate,
  keyMatchesCertificate,
  splitPem,
  verifyChain,
} from './pki/index.js';
export { ANNOTATION_KEY_AUTHORIZATION, LABEL_HTTP01 } from './solvers/http01/routed.js';
export { isSelfCheckMessage, selfCheckPrefix } from './solvers/solver.js';
export * from './webhook/index.js';
