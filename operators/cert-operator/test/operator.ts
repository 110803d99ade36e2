// The cert-operator run in the test process, for the files that need it reconciling while
// they drive the API server. Not a suite: vitest collects only *.test.ts.
import { createLogger, Manager, type ManagerOptions } from '@chousei/runtime';
import { type RunningManager, startManager, type WaitOptions } from '@chousei/runtime/testing';
import { operatorKubeConfig } from '@chousei/testenv/vitest';
import { type CertOperatorOptions, setupCertOperator } from '../src/operator.js';

export interface InProcessOptions {
  /** Default: TEST_LOG, else silent. */
  level?: string;
  /**
   * Keeps the log lines to assert on or print: `true` in a new array, or appended to this one
   * (shared by several operators, or declared before the operator starts). Default: stdout.
   */
  capture?: true | string[];
  /** Default: the chart ServiceAccount's, whose requests global-setup holds to the chart RBAC. */
  kubeConfig?: ManagerOptions['kubeConfig'];
  /** Set beside the ports and the logger, e.g. leaderElection. */
  manager?: Omit<ManagerOptions, 'kubeConfig' | 'logger'>;
  /**
   * startManager's: resolves once the caches synced and, with leader election, it leads.
   * `false`: only started, for a replica that stays a standby.
   */
  start?: WaitOptions | false;
}

export interface InProcessOperator {
  manager: Manager;
  running: RunningManager;
  /** What setupCertOperator returned (its webhook, servingCert, ...). */
  operator: ReturnType<typeof setupCertOperator>;
  /** The captured lines; empty without `capture`. */
  logs: string[];
}

/** Sets up the cert-operator on a new Manager and starts it. */
export async function startCertOperator(
  setup: Omit<CertOperatorOptions, 'logger'>,
  opts: InProcessOptions = {},
): Promise<InProcessOperator> {
  const logs = Array.isArray(opts.capture) ? opts.capture : [];
  const logger = createLogger({
    level: opts.level ?? process.env.TEST_LOG ?? 'silent',
    ...(opts.capture ? { destination: { write: (line: string) => void logs.push(line) } } : {}),
  });
  const manager = new Manager({
    kubeConfig: opts.kubeConfig ?? (await operatorKubeConfig()),
    // Nothing here reads probes or metrics; they would only hold ports.
    healthProbePort: false,
    metricsPort: false,
    ...opts.manager,
    logger,
  });
  const operator = setupCertOperator(manager, { ...setup, logger });
  const running =
    opts.start === false ? startStandby(manager) : await startManager(manager, opts.start);
  return { manager, running, operator, logs };
}

/** Started in the background: startManager would wait for a Lease a standby never gets. */
function startStandby(manager: Manager): RunningManager {
  const abort = new AbortController();
  const done = manager.start(abort.signal);
  return {
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}
