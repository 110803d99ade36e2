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
export { ConfigError, FLAGS, helpText, type OperatorConfig, parseConfig } from './config.js';
export {
  FINALIZER,
  OPERATOR,
  OWNER_ANNOTATION,
  OWNER_LABEL,
  type SecretMirrorOptions,
  setupSecretMirror,
} from './operator.js';
