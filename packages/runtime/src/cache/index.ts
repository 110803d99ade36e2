export {
  Cache,
  type CacheListOptions,
  type InformerScope,
  type InformerSettings,
  matchesLabels,
} from './cache.js';
export { type EventHandler, Informer, type InformerOptions } from './informer.js';
export {
  labelSelectorMatches,
  labelSelectorProblems,
  type SelectorProblem,
} from './selector.js';
export {
  byNamespace,
  byOwnerUid,
  dropManagedFields,
  type IndexFunc,
  type ReplaceResult,
  Store,
} from './store.js';
export {
  type ObservedCache,
  WriteExpectations,
  type WriteExpectationsOptions,
} from './write-expectations.js';
