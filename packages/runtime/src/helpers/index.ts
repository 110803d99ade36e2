export {
  type ConditionsResult,
  type ConditionUpdate,
  findCondition,
  InvalidConditionError,
  isConditionTrue,
  removeCondition,
  setCondition,
} from './conditions.js';
export {
  ageColumn,
  type CustomResourceDefinitionManifest,
  type CustomResourceDefinitionOptions,
  conditionColumns,
  conditionsSchema,
  customResourceDefinition,
  type JSONSchemaProps,
  labelSelectorSchema,
  type PrinterColumn,
  type ValidationRule,
} from './crd.js';
export {
  type EventClient,
  type EventObjectReference,
  EventRecorder,
  type EventRecorderOptions,
  type EventType,
} from './events.js';
export {
  addFinalizer,
  type FinalizeHandlers,
  type FinalizerClient,
  finalize,
  hasFinalizer,
  removeFinalizer,
} from './finalizers.js';
export {
  controllerReference,
  getControllerOf,
  isControlledBy,
  OwnerReferenceError,
  setControllerReference,
} from './owners.js';
export { patchStatusIfChanged, type StatusOf } from './status.js';
