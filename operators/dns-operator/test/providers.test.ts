// The command on the providers reached over HTTP: flags to provider, an Ingress to records.
import { Client, Ingresses } from '@chousei/runtime';
import {
  type Bind9,
  type ExternalDnsWebhook,
  type PowerDNS,
  startBind9,
  startExternalDnsWebhook,
  startPowerDNS,
} from '@chousei/testenv';
import { operatorKubeConfig, sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOperator } from './command.js';

/** An Ingress for `host` with a load balancer address, and the command args of its namespace. */
async function ingressSetup(prefix: string, host: string, ip: string) {
  const cluster = await sharedCluster();
  const ns = await cluster.createNamespace(prefix);
  const client = new Client(cluster.kubeConfig);
  await client.create(Ingresses, {
    metadata: { name: 'web', namespace: ns },
    spec: { rules: [{ host }] },
  });
  await client.patchStatus(
    Ingresses,
    { namespace: ns, name: 'web' },
    { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip }] } } } },
  );
  const kubeconfig = await cluster.writeKubeconfig(await operatorKubeConfig(), `kubeconfig-${ns}`);
  const args = ['--namespace', ns, '--source', 'ingress', '--kubeconfig', kubeconfig, '--once'];
  return { ns, client, args };
}

describe('chousei-dns-operator --provider pdns', () => {
  let pdns: PowerDNS;
  beforeAll(async () => {
    pdns = await startPowerDNS({ zones: ['example.test'] });
  });
  afterAll(() => pdns?.stop());

  it("publishes an Ingress's record and its owner TXT in PowerDNS, and removes them after the Ingress", async () => {
    const { ns, client, args } = await ingressSetup('pdns', 'www.example.test', '192.0.2.50');
    const flags = [...args, '--provider', 'pdns', '--pdns-server', pdns.apiUrl];
    // The API key comes from the environment, as from a Secret in the chart.
    const env = { CHOUSEI_DNS_PDNS_API_KEY: pdns.apiKey, CHOUSEI_DNS_TXT_OWNER_ID: 'pdns-test' };

    const first = await runOperator(flags, env);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(await pdns.dig('www.example.test', 'A')).toEqual(['192.0.2.50']);
    expect((await pdns.dig('a-www.example.test', 'TXT')).join()).toContain(
      'external-dns/owner=pdns-test',
    );

    await client.delete(Ingresses, { namespace: ns, name: 'web' });
    // No POD_NAMESPACE, so no first-sync state is kept: this run syncs the zone as a first
    // time, and its one delete (all it owns) would wait for a confirmation. Given here.
    const second = await runOperator([...flags, '--first-sync-delete-limit=100%'], env);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(await pdns.dig('www.example.test', 'A')).toEqual([]);
    expect(await pdns.dig('a-www.example.test', 'TXT')).toEqual([]);
  });

  it('stops with the server and the reason when the API key is wrong', async () => {
    const { args } = await ingressSetup('pdns-key', 'key.example.test', '192.0.2.51');
    const r = await runOperator([...args, '--provider', 'pdns', '--pdns-server', pdns.apiUrl], {
      CHOUSEI_DNS_PDNS_API_KEY: 'wrong',
    });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(
      `${pdns.apiUrl} refused with HTTP 401: Unauthorized (is the API key right?)`,
    );
    expect(await pdns.dig('key.example.test', 'A')).toEqual([]);
  });
});

describe('chousei-dns-operator --provider webhook (external-dns v0.22 webhook server, RFC2136 on BIND9)', () => {
  let bind: Bind9;
  let webhook: ExternalDnsWebhook;
  beforeAll(async () => {
    bind = await startBind9({ zones: ['example.test'] });
    webhook = await startExternalDnsWebhook({ backend: { provider: 'rfc2136', server: bind } });
  });
  afterAll(async () => {
    await webhook?.stop();
    await bind?.stop();
  });

  it("publishes an Ingress's record and its owner TXT through the sidecar, and removes them after the Ingress", async () => {
    const { ns, client, args } = await ingressSetup('webhook', 'hook.example.test', '192.0.2.60');
    // external-dns's providers announce no domains: --domain-filter names the zone.
    const flags = [
      ...args,
      '--provider',
      'webhook',
      '--webhook-provider-url',
      webhook.url,
      '--domain-filter',
      'example.test',
      '--txt-owner-id',
      'hook-test',
    ];
    const first = await runOperator(flags);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(await bind.dig('hook.example.test', 'A')).toEqual(['192.0.2.60']);
    expect((await bind.dig('a-hook.example.test', 'TXT')).join()).toContain(
      'external-dns/owner=hook-test',
    );

    await client.delete(Ingresses, { namespace: ns, name: 'web' });
    // A first sync again (no state kept without POD_NAMESPACE): its delete confirmed.
    const second = await runOperator([...flags, '--first-sync-delete-limit=100%']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(await bind.dig('hook.example.test', 'A')).toEqual([]);
    expect(await bind.dig('a-hook.example.test', 'TXT')).toEqual([]);
  });
});
