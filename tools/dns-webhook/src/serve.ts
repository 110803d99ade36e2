import { createServer, type Server } from 'node:http';
import { type RunningWebhookServer, startWebhookServer } from '@chousei/dns';
import { buildProvider } from '@chousei/dns-operator';
import { type Logger, metricsRegistry } from '@chousei/runtime';
import type { WebhookConfig } from './config.js';

export interface Serving {
  webhook: RunningWebhookServer;
  health: Server;
  close(): Promise<void>;
}

/**
 * Builds the provider the configuration names and serves it: the protocol on the listen
 * address, /healthz and /metrics on the health address.
 */
export async function serve(config: WebhookConfig, logger: Logger): Promise<Serving> {
  const provider = buildProvider(config, logger);
  const webhook = await startWebhookServer({
    provider,
    domainFilter: config.domainFilter,
    excludeDomains: config.excludeDomains,
    defaultTTL: config.defaultTTL,
    host: config.listen.host,
    port: config.listen.port,
    logger,
  });
  const health = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
    } else if (req.url === '/metrics') {
      void metricsRegistry.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': metricsRegistry.contentType }).end(text);
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    health.once('error', reject);
    health.listen(config.health.port, config.health.host, () => resolve());
  });
  logger.info(
    {
      provider: provider.name,
      url: webhook.url,
      health: `${config.health.host}:${config.health.port}`,
    },
    'serving the webhook provider API',
  );
  return {
    webhook,
    health,
    close: async () => {
      await webhook.close();
      await new Promise<void>((resolve) => health.close(() => resolve()));
    },
  };
}
