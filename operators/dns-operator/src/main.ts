#!/usr/bin/env node
// chousei-dns-operator: flags -> provider -> manager.
import {
  aliasFor,
  InMemoryProvider,
  type Provider,
  RFC2136Provider,
  Route53Provider,
} from '@chousei/dns';
import { createLogger, Manager, shutdownSignal } from '@chousei/runtime';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, type DnsOperatorConfig, helpText, parseConfig } from './config.js';
import { DryRunProvider } from './dry-run.js';
import { setupDnsOperator } from './operator.js';

function buildProvider(
  config: DnsOperatorConfig,
  logger: ReturnType<typeof createLogger>,
): Provider {
  switch (config.provider) {
    case 'route53':
      return new Route53Provider({
        ...(config.route53.endpoint ? { endpoint: config.route53.endpoint } : {}),
        // Route53 is global; without a configured region the SDK would refuse to start.
        region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        zoneFilter: {
          domains: config.domainFilter,
          excludeDomains: config.excludeDomains,
          zoneIds: config.route53.zoneIds,
          ...(config.route53.zoneType ? { type: config.route53.zoneType } : {}),
          tags: config.route53.zoneTags,
        },
        rateLimit: { qps: config.route53.qps },
        logger,
      });
    case 'rfc2136':
      return new RFC2136Provider({
        host: config.rfc2136.host!,
        port: config.rfc2136.port,
        zones: config.rfc2136.zones,
        ...(config.rfc2136.tsig ? { tsig: config.rfc2136.tsig } : {}),
        logger,
      });
    case 'inmemory':
      return new InMemoryProvider(config.inmemoryZones);
  }
}

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
  const operator = setupDnsOperator(manager, {
    provider,
    sources: config.sources,
    ownerId: config.ownerId,
    ...(config.txtPrefix ? { txtPrefix: config.txtPrefix } : {}),
    ...(config.txtSuffix ? { txtSuffix: config.txtSuffix } : {}),
    ...(config.txtWildcardReplacement
      ? { txtWildcardReplacement: config.txtWildcardReplacement }
      : {}),
    policy: config.policy,
    managedTypes: config.managedTypes,
    domainFilter: config.domainFilter,
    excludeDomains: config.excludeDomains,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    ...(config.labelFilter ? { labelFilter: config.labelFilter } : {}),
    ...(config.annotationFilter ? { annotationFilter: config.annotationFilter } : {}),
    ingressClasses: config.ingressClasses,
    defaultTTL: config.defaultTTL,
    resyncIntervalMs: config.resyncIntervalMs,
    concurrency: config.concurrency,
    ...(config.provider === 'route53' ? { aliasFor } : {}),
    finalizers: !config.once,
    logger,
  });

  const signal = shutdownSignal();
  if (config.once) {
    const stop = new AbortController();
    signal.addEventListener('abort', () => stop.abort());
    const running = manager.start(stop.signal);
    await operator.untilIdle(stop.signal);
    stop.abort();
    await running;
    return operator.failures() ? 1 : 0;
  }
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
