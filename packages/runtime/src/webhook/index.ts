export {
  diff,
  escapePointerToken,
  type JsonPatchOp,
  jsonEqual,
  mergePatch,
} from '../util/json-patch.js';
export {
  ADMISSION_API_VERSION,
  type AdmissionHandler,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionResult,
  type AdmissionReview,
  type AdmissionStatus,
  type Allowed,
  allow,
  type Denied,
  deny,
  type FieldCause,
  type GroupVersionKind,
  type GroupVersionResource,
  mutatingHandler,
  type Operation,
  type UserInfo,
  type ValidationResult,
  validatingHandler,
} from './admission.js';
export { type IssueOptions, issueCertificate, type KeyPair } from './pki.js';
export { WebhookServer, type WebhookServerOptions } from './server.js';
export {
  ServingCert,
  type ServingCertOptions,
  type WebhookConfigurationRef,
} from './serving-cert.js';
