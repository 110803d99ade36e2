export { type LeaderElectionOptions, LeaderElector } from './leader-election.js';
export {
  LeaderElectionLostError,
  Manager,
  type ManagerOptions,
  type Runnable,
  RunnableFailedError,
  type WebhookServerRunOptions,
} from './manager.js';
export { type Check, type CheckResult, ProbeServer } from './probes.js';
export { shutdownSignal } from './signals.js';
