#!/usr/bin/env node
// chousei-example-operator: flags -> manager -> the secret-mirror controller.
import { managerFor, runOperator, shutdownSignal } from '@chousei/runtime';
import { helpText, parseConfig } from './config.js';
import { setupSecretMirror } from './operator.js';

const code = await runOperator({
  name: 'chousei-example-operator',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  run: async (config, logger) => {
    const manager = managerFor(config, logger);
    setupSecretMirror(manager, { concurrency: config.concurrency });
    // Runs until SIGTERM: then finishes in-flight reconciles and hands the Lease over.
    await manager.start(shutdownSignal());
    return 0;
  },
});
process.exit(code);
