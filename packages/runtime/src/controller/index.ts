export { ControllerBuilder, type ControllerBuilderOptions, type WatchOptions } from './builder.js';
export { Controller, type ControllerOptions, ownerRequests, type Source } from './controller.js';
export {
  type ObjectClient,
  type ObjectContext,
  ObjectReconcile,
  type ObjectReconciler,
  type ObjectResult,
} from './objects.js';
export {
  and,
  annotationsChanged,
  generationChanged,
  labelsChanged,
  matching,
  not,
  or,
  type Predicate,
  resourceVersionChanged,
} from './predicates.js';
export {
  type ReconcileContext,
  type ReconcileFunc,
  type Reconciler,
  type ReconcilerBinding,
  type Request,
  type Result,
  TerminalError,
} from './reconciler.js';
export { namedRequests, objectRequests, type RequestKind } from './requests.js';
