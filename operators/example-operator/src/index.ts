export {
  CRDS,
  GROUP,
  Reason,
  type SecretMirror,
  type SecretMirrorSpec,
  type SecretMirrorStatus,
  SecretMirrors,
  secretMirrorCRD,
  VERSION,
} from './api/secretmirror.js';
export {
  ConfigError,
  FLAGS,
  helpText,
  type OperatorConfig,
  parseConfig,
  type WebhookConfig,
} from './config.js';
export { type SecretMirrorOptions, setupSecretMirror } from './operator.js';
export * from './reconciler.js';
export {
  type AdmissionOptions,
  DEFAULTING_PATH,
  defaulting,
  setupAdmission,
  VALIDATING_PATH,
  validating,
  type WebhookConfigurationOptions,
  webhookConfigurations,
} from './webhook.js';
