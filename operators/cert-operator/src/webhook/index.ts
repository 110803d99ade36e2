export {
  CERTIFICATE_WEBHOOK_PATH,
  type CertWebhookOptions,
  CLUSTER_ISSUER_WEBHOOK_PATH,
  certificateAdmission,
  certWebhook,
  ISSUER_WEBHOOK_PATH,
  issuerAdmission,
  WEBHOOK_CONFIGURATION_NAME,
  type WebhookConfigurationOptions,
  webhookConfiguration,
} from './server.js';
export {
  DEFAULT_SERVING_CERT_CHECK_MS,
  issueServingKeyPair,
  SERVING_CERT_KEYS,
  ServingCert,
  type ServingCertOptions,
  type ServingKeyPair,
  serviceDnsNames,
  servingKeyPairProblems,
  WEBHOOK_CA_LIFETIME_MS,
  WEBHOOK_LEAF_LIFETIME_MS,
} from './serving-cert.js';
export {
  type CertificateValidation,
  type FieldError,
  ISSUER_GROUPS,
  MAX_COMMON_NAME,
  MIN_DURATION_MS,
  MIN_RENEW_BEFORE_MS,
  validateCertificate,
  validateIssuer,
} from './validation.js';
