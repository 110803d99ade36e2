// @chousei/runtime: the layers an event walks through, each usable on its own:
// client -> watch -> cache -> controller (queue) -> manager.
export * from './cache/index.js';
export * from './client/index.js';
export {
  ConfigError,
  envName,
  type FlagSpec,
  Flags,
  type FlagsOptions,
  flagsHelp,
  operatorFlags,
} from './config/flags.js';
export {
  managerFor,
  type OperatorCommand,
  type OperatorSettings,
  operatorSettings,
  runOperator,
} from './config/operator.js';
export * from './controller/index.js';
export * from './helpers/index.js';
export * from './kubeconfig/index.js';
export { createLogger, type Logger, silentLogger } from './log/logger.js';
export * from './manager/index.js';
export {
  CollectedGauge,
  collectedGauge,
  counter,
  exponentialBuckets,
  type GaugeSample,
  type GaugeSource,
  gauge,
  histogram,
  metricsRegistry,
} from './metrics/registry.js';
export * from './queue/index.js';
export { abortable, JointAbort, sleep, whenAborted } from './util/async.js';
export {
  type BackoffOptions,
  backoffDelay,
  type WithRetryOptions,
  withRetry,
} from './util/backoff.js';
export * from './watch/index.js';
export * from './webhook/index.js';
