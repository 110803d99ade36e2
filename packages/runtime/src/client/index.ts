export {
  type ApplyOptions,
  Client,
  type DeleteOptions,
  type JsonPatchOperation,
  type ListOptions,
  type Patch,
  type Reader,
  type StatusWriter,
  type WriteOptions,
  type Writer,
} from './client.js';
export {
  AlreadyExistsError,
  ApiError,
  ConflictError,
  ForbiddenError,
  GoneError,
  InvalidError,
  isAlreadyExists,
  isConflict,
  isNotFound,
  NotFoundError,
  notFoundIsUndefined,
  ServerError,
  type Status,
  type StatusCause,
  TooManyRequestsError,
  UnauthorizedError,
} from './errors.js';
export * from './gateway-api.js';
export {
  ConfigMaps,
  CustomResourceDefinitions,
  Events,
  groupKind,
  Ingresses,
  Leases,
  MutatingWebhookConfigurations,
  Namespaces,
  Pods,
  type ResourceType,
  resourcePath,
  resourceType,
  Secrets,
  ServiceAccounts,
  Services,
  ValidatingWebhookConfigurations,
} from './resource.js';
export { type RetryOptions, updateWithRetry } from './retry.js';
export { Transport, type TransportOptions } from './transport.js';
export * from './types.js';
