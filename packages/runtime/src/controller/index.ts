export { ControllerBuilder, type WatchOptions } from './builder.js';
export { Controller, type ControllerOptions, ownerRequests, type Source } from './controller.js';
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
  type Request,
  type Result,
  TerminalError,
} from './reconciler.js';
