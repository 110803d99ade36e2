#!/usr/bin/env node
// chousei-dns-operator: flags -> provider -> manager.
import { managerFor, runOperator, shutdownSignal } from '@chousei/runtime';
import { helpText, parseConfig } from './config.js';
import { DryRunProvider } from './dry-run.js';
import { setupDnsOperator } from './operator.js';
import { buildProvider, operatorOptions, runOnce } from './run.js';

const code = await runOperator({
  name: 'chousei-dns-operator',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  run: async (config, logger) => {
    let provider = buildProvider(config, logger);
    if (config.dryRun) provider = new DryRunProvider(provider, logger);
    // A one-shot run serves no probes and takes no Lease.
    const manager = managerFor(
      config,
      logger,
      config.once ? { healthProbePort: false, metricsPort: false, leaderElection: undefined } : {},
    );
    const operator = setupDnsOperator(manager, operatorOptions(config, provider, logger));
    const signal = shutdownSignal();
    if (config.once) return (await runOnce(manager, operator, signal)) ? 1 : 0;
    await manager.start(signal);
    return 0;
  },
});
process.exit(code);
