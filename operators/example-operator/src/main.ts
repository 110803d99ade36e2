#!/usr/bin/env node
// chousei-example-operator: flags -> manager -> the secret-mirror controller and, with
// --webhook-service, the SecretMirror admission webhooks.
import { managerFor, runOperator, shutdownSignal } from '@chousei/runtime';
import { helpText, parseConfig } from './config.js';
import { setupSecretMirror } from './operator.js';
import { setupAdmission } from './webhook.js';

const code = await runOperator({
  name: 'chousei-example-operator',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  run: async (config, logger) => {
    const manager = managerFor(config, logger);
    setupSecretMirror(manager, { concurrency: config.concurrency });
    if (config.webhook) {
      const { serviceName, ...webhook } = config.webhook;
      setupAdmission(manager, {
        ...webhook,
        serviceName,
        secretName: `${serviceName}-tls`,
        logger,
      });
    }
    // Runs until SIGTERM: then finishes in-flight reconciles and hands the Lease over.
    await manager.start(shutdownSignal());
    return 0;
  },
});
process.exit(code);
