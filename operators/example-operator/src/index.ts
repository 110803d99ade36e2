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
export { type SecretMirrorOptions, setupSecretMirror } from './operator.js';
export {
  FINALIZER,
  type MirrorView,
  OPERATOR,
  OWNER_ANNOTATION,
  OWNER_LABEL,
  SecretMirrorReconciler,
} from './reconciler.js';
