#!/usr/bin/env node
// chousei-cert-operator: flags -> manager.
import { managerFor, runOperator, shutdownSignal } from '@chousei/runtime';
import { helpText, parseConfig } from './config.js';
import { setupCertOperator } from './operator.js';

const code = await runOperator({
  name: 'chousei-cert-operator',
  parse: (argv) => parseConfig(argv),
  help: helpText,
  run: async (config, logger) => {
    const manager = managerFor(config, logger);
    setupCertOperator(manager, {
      ...(config.namespace ? { namespace: config.namespace } : {}),
      clusterResourceNamespace: config.clusterResourceNamespace,
      ...(config.defaultIssuer ? { defaultIssuer: config.defaultIssuer } : {}),
      ...(config.gatewayAPI ? { gatewayAPI: config.gatewayAPI } : {}),
      http01SolverPort: config.http01SolverPort,
      ...(config.http01SolverService ? { http01SolverService: config.http01SolverService } : {}),
      http01SelfCheck: config.http01SelfCheck,
      ...(config.webhook ? { webhook: config.webhook } : {}),
      backoff: config.backoff,
      concurrency: config.concurrency,
      renewalInfoIntervalMs: config.renewalInfoIntervalMs,
      dns01RecursiveNameservers: config.dns01RecursiveNameservers,
      logger,
    });
    await manager.start(shutdownSignal());
    return 0;
  },
});
process.exit(code);
