#!/usr/bin/env node
// chousei-cert-operator: flags -> manager.
import { createLogger, Manager, shutdownSignal } from '@chousei/runtime';
import { KubeConfig } from '@kubernetes/client-node';
import { type CertOperatorConfig, ConfigError, helpText, parseConfig } from './config.js';
import { setupCertOperator } from './operator.js';

export async function main(argv: string[]): Promise<number> {
  let config: CertOperatorConfig;
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`chousei-cert-operator: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const logger = createLogger({ level: config.logLevel, name: 'chousei-cert-operator' });
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromDefault();
  const manager = new Manager({
    kubeConfig,
    logger,
    qps: config.kubeApi.qps,
    burst: config.kubeApi.burst,
    healthProbePort: config.healthPort,
    metricsPort: config.metricsPort,
    ...(config.leaderElect
      ? {
          leaderElection: {
            name: config.leaderElectionId,
            namespace: config.leaderElectionNamespace,
          },
        }
      : {}),
  });
  setupCertOperator(manager, {
    clusterResourceNamespace: config.clusterResourceNamespace,
    ...(config.defaultIssuer ? { defaultIssuer: config.defaultIssuer } : {}),
    http01SolverPort: config.http01SolverPort,
    ...(config.http01SolverService ? { http01SolverService: config.http01SolverService } : {}),
    http01SelfCheck: config.http01SelfCheck,
    ...(config.webhook ? { webhook: config.webhook } : {}),
    backoff: config.backoff,
    concurrency: config.concurrency,
    logger,
  });
  await manager.start(shutdownSignal());
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chousei-cert-operator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
