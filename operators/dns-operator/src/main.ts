#!/usr/bin/env node
// chousei-dns-operator: flags -> provider -> manager.
import { createLogger, Manager, shutdownSignal } from '@chousei/runtime';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, type DnsOperatorConfig, helpText, parseConfig } from './config.js';
import { DryRunProvider } from './dry-run.js';
import { setupDnsOperator } from './operator.js';
import { buildProvider, operatorOptions, runOnce } from './run.js';

export async function main(argv: string[]): Promise<number> {
  let config: DnsOperatorConfig;
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`chousei-dns-operator: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (config.help) {
    process.stdout.write(helpText());
    return 0;
  }
  const logger = createLogger({ level: config.logLevel, name: 'chousei-dns-operator' });
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromDefault();

  let provider = buildProvider(config, logger);
  if (config.dryRun) provider = new DryRunProvider(provider, logger);
  const manager = new Manager({
    kubeConfig,
    logger,
    qps: config.kubeApi.qps,
    burst: config.kubeApi.burst,
    healthProbePort: config.once ? false : config.healthPort,
    metricsPort: config.once ? false : config.metricsPort,
    ...(config.leaderElect && !config.once
      ? {
          leaderElection: {
            name: config.leaderElectionId,
            namespace: config.leaderElectionNamespace,
          },
        }
      : {}),
  });
  const operator = setupDnsOperator(manager, operatorOptions(config, provider, logger));

  const signal = shutdownSignal();
  if (config.once) return (await runOnce(manager, operator, signal)) ? 1 : 0;
  await manager.start(signal);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chousei-dns-operator: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
