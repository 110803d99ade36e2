import { startExternalDnsWebhook } from '@chousei/testenv';
import { providerConformance } from '../src/provider/conformance.js';
import { WebhookProvider } from '../src/provider/webhook/index.js';

// external-dns's own webhook API server in front of its own in-memory provider.
providerConformance('webhook (external-dns v0.22 webhook server, in-memory provider)', async () => {
  const webhook = await startExternalDnsWebhook({
    backend: { provider: 'inmemory', zones: ['example.test'] },
  });
  const provider = new WebhookProvider({ url: webhook.url, zones: ['example.test'] });
  const zone = (await provider.zones()).find((z) => z.name === 'example.test')!;
  return { provider, zone, stop: () => webhook.stop() };
});
