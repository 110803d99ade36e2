// The dns-operator run in the test process, under the chart ServiceAccount's RBAC (global-setup
// holds its requests to it), for the files that need it reconciling while they drive the API
// server. Not a suite: vitest collects only *.test.ts.
import { createLogger, Manager } from '@chousei/runtime';
import { type RunningManager, startManager, type WaitOptions } from '@chousei/runtime/testing';
import { operatorKubeConfig } from '@chousei/testenv/vitest';
import { type DnsOperatorOptions, setupDnsOperator } from '../src/operator.js';

/** Sets up the dns-operator on a new Manager (logging at TEST_LOG, else silent) and starts it. */
export async function startDnsOperator(
  setup: Omit<DnsOperatorOptions, 'logger'>,
  start?: WaitOptions,
): Promise<RunningManager> {
  const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
  const manager = new Manager({
    kubeConfig: await operatorKubeConfig(),
    // Nothing here reads probes or metrics; they would only hold ports.
    healthProbePort: false,
    metricsPort: false,
    logger,
  });
  setupDnsOperator(manager, { ...setup, logger });
  return startManager(manager, start);
}
