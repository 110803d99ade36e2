export { MAX_COMMON_NAME } from '../api/limits.js';
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
  type CertificateValidation,
  type FieldError,
  ISSUER_GROUPS,
  MIN_DURATION_MS,
  MIN_RENEW_BEFORE_MS,
  validateCertificate,
  validateIssuer,
} from './validation.js';
