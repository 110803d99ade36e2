import { startExternalDnsWebhook, startPowerDNS } from '@chousei/testenv';
import { providerConformance } from '../src/provider/conformance.js';
import { PowerDNSProvider } from '../src/provider/powerdns/index.js';
import { startWebhookServer, WebhookProvider } from '../src/provider/webhook/index.js';
import type { RecordSet } from '../src/records.js';
import { digValues } from './dig.js';

// external-dns's own webhook API server in front of its own in-memory provider.
providerConformance('webhook (external-dns v0.22 webhook server, in-memory provider)', async () => {
  const webhook = await startExternalDnsWebhook({
    backend: { provider: 'inmemory', zones: ['example.test'] },
  });
  // external-dns's providers announce no domains: the zone is named here.
  const provider = new WebhookProvider({ url: webhook.url, zones: ['example.test'] });
  const zone = (await provider.zones()).find((z) => z.name === 'example.test')!;
  return { provider, zone, stop: () => webhook.stop() };
});

// Both ends Chousei's: the client, and the webhook server in front of PowerDNS, whose
// negotiation announces the zones.
providerConformance('webhook (Chousei webhook server in front of PowerDNS)', async () => {
  const pdns = await startPowerDNS({ zones: ['example.test'] });
  const server = await startWebhookServer({
    provider: new PowerDNSProvider({ server: pdns.apiUrl, apiKey: pdns.apiKey }),
    port: 0,
  });
  const provider = new WebhookProvider({ url: server.url });
  const zone = (await provider.zones()).find((z) => z.name === 'example.test')!;
  return {
    provider,
    zone,
    lookup: (name: string, type: RecordSet['type']) => digValues(pdns, name, type),
    stop: async () => {
      await server.close();
      await pdns.stop();
    },
  };
});
