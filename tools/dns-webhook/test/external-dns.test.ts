// external-dns v0.22 itself (built from the Go module proxy) as the client of the built
// chousei-dns-webhook command: external-dns reads an Ingress from a real API server and
// writes its records through the webhook; they are read back from the server behind it.
import { fileURLToPath } from 'node:url';
import { Client, Ingresses } from '@chousei/runtime';
import {
  type Bind9,
  type Dig,
  externalDnsOnce,
  freePort,
  type PowerDNS,
  ServerProcess,
  startBind9,
  startPowerDNS,
  waitUntilReady,
} from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** The built command on free loopback ports; stopped after each test. */
async function startWebhook(args: string[], env: Record<string, string> = {}) {
  const [port, healthPort] = [await freePort(), await freePort()];
  const proc = new ServerProcess({
    name: 'chousei-dns-webhook',
    command: process.execPath,
    args: [
      main,
      ...args,
      `--listen-address=127.0.0.1:${port}`,
      `--health-address=127.0.0.1:${healthPort}`,
    ],
    env,
  });
  await waitUntilReady(
    proc,
    async () => (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).ok,
    15_000,
  );
  return { proc, url: `http://127.0.0.1:${port}` };
}

/** One sync of external-dns --provider=webhook over the Ingresses of `namespace`. */
function externalDnsWebhookOnce(url: string, kubeconfig: string, namespace: string) {
  return externalDnsOnce([
    '--provider=webhook',
    `--webhook-provider-url=${url}`,
    '--source=ingress',
    `--namespace=${namespace}`,
    `--kubeconfig=${kubeconfig}`,
    '--txt-owner-id=extdns',
    '--policy=sync',
  ]);
}

let client: Client;
let kubeconfig: string;
let running: ServerProcess | undefined;
beforeAll(async () => {
  const cluster = await sharedCluster();
  client = new Client(cluster.kubeConfig);
  kubeconfig = await cluster.writeKubeconfig(cluster.kubeConfig, 'kubeconfig-external-dns');
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/**
 * external-dns publishes an Ingress through the webhook (the A record and its ownership
 * TXT, read with `dig` at the backing server), then removes both after the Ingress goes.
 */
async function publishesAndRemoves(prefix: string, url: string, dig: Dig) {
  const cluster = await sharedCluster();
  const ns = await cluster.createNamespace(prefix);
  const host = `${prefix}.example.test`;
  await client.create(Ingresses, {
    metadata: { name: 'web', namespace: ns },
    spec: { rules: [{ host }] },
  });
  await client.patchStatus(
    Ingresses,
    { namespace: ns, name: 'web' },
    { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.70' }] } } } },
  );
  const first = await externalDnsWebhookOnce(url, kubeconfig, ns);
  expect(first.code, first.output).toBe(0);
  expect(await dig(host, 'A')).toEqual(['192.0.2.70']);
  expect(await dig(`a-${host}`, 'TXT')).toEqual([
    `"heritage=external-dns,external-dns/owner=extdns,external-dns/resource=ingress/${ns}/web"`,
  ]);
  // A second sync with nothing changed writes nothing.
  const again = await externalDnsWebhookOnce(url, kubeconfig, ns);
  expect(again.code, again.output).toBe(0);
  expect(again.output).toContain('All records are already up to date');

  await client.delete(Ingresses, { namespace: ns, name: 'web' });
  const after = await externalDnsWebhookOnce(url, kubeconfig, ns);
  expect(after.code, after.output).toBe(0);
  expect(await dig(host, 'A')).toEqual([]);
  expect(await dig(`a-${host}`, 'TXT')).toEqual([]);
}

describe('external-dns v0.22 through chousei-dns-webhook --provider rfc2136 (BIND9)', () => {
  let bind: Bind9;
  beforeAll(async () => {
    bind = await startBind9({ zones: ['example.test'] });
  });
  afterAll(() => bind?.stop());

  it('publishes an Ingress, keeps it as is on a second sync, and removes it after the Ingress', async () => {
    const webhook = await startWebhook(
      [
        '--provider=rfc2136',
        `--rfc2136-host=${bind.host}`,
        `--rfc2136-port=${bind.port}`,
        '--rfc2136-zone=example.test',
        `--rfc2136-tsig-keyname=${bind.tsig.name}`,
      ],
      { CHOUSEI_DNS_RFC2136_TSIG_SECRET: bind.tsig.secret },
    );
    running = webhook.proc;
    await publishesAndRemoves('rfc', webhook.url, bind.dig);
  });
});

describe('external-dns v0.22 through chousei-dns-webhook --provider pdns', () => {
  let pdns: PowerDNS;
  beforeAll(async () => {
    pdns = await startPowerDNS({ zones: ['example.test'] });
  });
  afterAll(() => pdns?.stop());

  it('publishes an Ingress, keeps it as is on a second sync, and removes it after the Ingress', async () => {
    const webhook = await startWebhook([`--provider=pdns`, `--pdns-server=${pdns.apiUrl}`], {
      CHOUSEI_DNS_PDNS_API_KEY: pdns.apiKey,
    });
    running = webhook.proc;
    await publishesAndRemoves('pdns', webhook.url, pdns.dig);
  });
});
