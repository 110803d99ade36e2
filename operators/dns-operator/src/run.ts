// From configuration to a running operator: shared by chousei-dns-operator (main.ts),
// tools that run it read-only (kubectl-chousei's `dns plan`) and chousei-dns-webhook (its
// provider).
import { readFileSync } from 'node:fs';
import {
  InMemoryProvider,
  PowerDNSProvider,
  type Provider,
  RFC2136Provider,
  Route53Provider,
  route53Aliases,
  WebhookProvider,
  weakTsigAlgorithm,
} from '@chousei/dns';
import type { Logger, Manager } from '@chousei/runtime';
import type { DnsOperatorConfig, DnsSourceConfig } from './config.js';
import type { DnsOperator, DnsOperatorOptions } from './operator.js';

/** The provider the configuration names. */
export function buildProvider(config: DnsOperatorConfig, logger: Logger): Provider {
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
    case 'rfc2136': {
      const weak = config.rfc2136.tsig && weakTsigAlgorithm(config.rfc2136.tsig.algorithm);
      if (weak)
        logger.warn(
          {
            hint: 'give the key hmac-sha256 or stronger at the server and in --rfc2136-tsig-secret-alg',
          },
          `weak TSIG algorithm: ${weak}`,
        );
      return new RFC2136Provider({
        host: config.rfc2136.host!,
        port: config.rfc2136.port,
        zones: config.rfc2136.zones,
        ...(config.rfc2136.tsig ? { tsig: config.rfc2136.tsig } : {}),
        logger,
      });
    }
    case 'pdns':
      return powerDNS(config, logger);
    case 'webhook':
      // The zones, when the provider announces none: the domains this operator manages.
      return new WebhookProvider({
        url: config.webhook.url,
        zones: config.domainFilter,
        timeoutMs: config.webhook.timeoutMs,
        logger,
      });
    case 'inmemory':
      return new InMemoryProvider(config.inmemoryZones);
  }
}

function powerDNS(config: DnsOperatorConfig, logger: Logger): PowerDNSProvider {
  const { pdns } = config;
  const file = (path: string | undefined) => (path ? readFileSync(path, 'utf8') : undefined);
  const [ca, cert, key] = [pdns.tls.caFile, pdns.tls.certFile, pdns.tls.keyFile].map(file);
  return new PowerDNSProvider({
    server: pdns.server!,
    apiKey: pdns.apiKey!,
    serverId: pdns.serverId,
    tls: {
      insecureSkipVerify: pdns.tls.skipVerify,
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
    },
    logger,
  });
}

/** What the configuration says about sources, ownership and planning, as operator options. */
export function operatorOptions(
  config: DnsSourceConfig,
  provider: Provider,
  logger: Logger,
): DnsOperatorOptions {
  return {
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
    crossNamespaceClaims: config.crossNamespaceClaims,
    ...(config.labelFilter ? { labelFilter: config.labelFilter } : {}),
    ...(config.annotationFilter ? { annotationFilter: config.annotationFilter } : {}),
    ...(config.annotationPrefix ? { annotationPrefix: config.annotationPrefix } : {}),
    ...(config.ignoreIngressTlsSpec ? { ignoreIngressTlsSpec: true } : {}),
    ingressClasses: config.ingressClasses,
    gatewayListenerSets: config.gatewayListenerSets,
    defaultTTL: config.defaultTTL,
    resyncIntervalMs: config.resyncIntervalMs,
    concurrency: config.concurrency,
    ...(config.provider === 'route53' ? { aliases: route53Aliases(config.route53) } : {}),
    firstSync: config.firstSync,
    finalizers: !config.once,
    // A dry run changes nothing anywhere: no finalizers, statuses or Events either.
    ...(config.dryRun ? { readOnly: true } : {}),
    logger,
  };
}

/**
 * Runs the manager until every name was reconciled once (`--once`), then stops it.
 * Resolves with the number of names that failed.
 */
export async function runOnce(
  manager: Manager,
  operator: DnsOperator,
  signal: AbortSignal,
): Promise<number> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  signal.addEventListener('abort', abort, { once: true });
  const running = manager.start(stop.signal);
  try {
    await Promise.race([operator.untilIdle(stop.signal), running]);
  } finally {
    stop.abort();
    signal.removeEventListener('abort', abort);
    await running;
  }
  return operator.failures();
}
