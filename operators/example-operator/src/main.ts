#!/usr/bin/env node
// chousei-example-operator: flags -> manager -> the secret-mirror controller.
import { createLogger, Manager, shutdownSignal } from '@chousei/runtime';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, helpText, type OperatorConfig, parseConfig } from './config.js';
import { setupSecretMirror } from './operator.js';

const NAME = 'chousei-example-operator';

export async function main(argv: string[]): Promise<number> {
  let config: OperatorConfig;
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${NAME}: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const logger = createLogger({ level: config.logLevel, name: NAME });
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
  setupSecretMirror(manager, { concurrency: config.concurrency });
  // Runs until SIGTERM: then finishes in-flight reconciles and hands the Lease over.
  await manager.start(shutdownSignal());
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `${NAME}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
