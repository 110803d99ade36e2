// DNS-01 through every DNS provider an Issuer can name: the operator writes the challenge
// TXT through the provider, Pebble validates it by asking the DNS server the provider
// writes to, and the certificate comes out. One operator for the file, one Pebble and one
// DNS service per provider.
import { X509Certificate } from 'node:crypto';
import { Route53Provider } from '@chousei/dns';
import { Client, Secrets } from '@chousei/runtime';
import { type RunningManager, waitForCondition } from '@chousei/runtime/testing';
import {
  type Bind9,
  type Dig,
  type DnsResponder,
  digAt,
  type ExternalDnsWebhook,
  type Moto,
  type Pebble,
  type PowerDNS,
  startBind9,
  startDnsResponder,
  startExternalDnsWebhook,
  startMoto,
  startPebble,
  startPowerDNS,
} from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRDS } from '../src/api/crds.js';
import { type ACMESolver, Certificates, Issuers } from '../src/api/types.js';
import { inspectCertificate } from '../src/pki/index.js';
import { startCertOperator } from './operator.js';
import { secretText } from './secret-text.js';

let client: Client;
let ns: string;
let running: RunningManager;

beforeAll(async () => {
  const cluster = await sharedCluster();
  await cluster.apply(CRDS);
  ns = await cluster.createNamespace('dns01-providers');
  client = new Client(cluster.kubeConfig);
  ({ running } = await startCertOperator({
    clusterResourceNamespace: ns,
    // DNS-01 only: the HTTP-01 server listens on any free port, unused.
    http01SolverPort: 0,
    backoff: { initialMs: 1000, maxMs: 2000 },
  }));
});
afterAll(() => running?.stop());

/**
 * Issues a certificate for a name and its wildcard from `pebble` through `solver`, and
 * checks the chain, the names, and that the challenge TXT is gone from `dig`'s server.
 */
async function issuesThrough(name: string, pebble: Pebble, solver: ACMESolver, dig: Dig) {
  await client.create(Issuers, {
    metadata: { name, namespace: ns },
    spec: {
      acme: {
        server: pebble.directoryUrl,
        privateKeySecretRef: { name: `${name}-account` },
        caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
        solvers: [solver],
      },
    },
  });
  const dnsNames = [`${name}.example.test`, `*.${name}.example.test`];
  await client.create(Certificates, {
    metadata: { name, namespace: ns },
    spec: { secretName: `${name}-tls`, issuerRef: { name }, dnsNames },
  });
  await waitForCondition(client, Certificates, { namespace: ns, name }, 'Ready', {
    timeoutMs: 45_000,
  });
  const pem = secretText(
    await client.get(Secrets, { namespace: ns, name: `${name}-tls` }),
    'tls.crt',
  );
  const [leaf, ...rest] = pem
    .split(/(?<=-----END CERTIFICATE-----)\s*/)
    .filter((p) => p.includes('BEGIN'))
    .map((p) => new X509Certificate(p));
  const chain = [leaf!, ...rest, new X509Certificate(await pebble.rootCertificate())];
  for (let i = 0; i + 1 < chain.length; i++)
    expect(chain[i]!.verify(chain[i + 1]!.publicKey)).toBe(true);
  expect(inspectCertificate(pem).dnsNames.sort()).toEqual([...dnsNames].sort());
  expect(await dig(`_acme-challenge.${name}.example.test`, 'TXT')).toEqual([]);
}

describe('DNS-01 through PowerDNS (pdns solver, API key from a Secret)', () => {
  let pdns: PowerDNS;
  let pebble: Pebble;
  beforeAll(async () => {
    pdns = await startPowerDNS({ zones: ['example.test'] });
    pebble = await startPebble({ dnsServer: pdns.address });
  });
  afterAll(async () => {
    await pebble?.stop();
    await pdns?.stop();
  });

  it('issues a name and its wildcard, and removes the challenge record', async () => {
    await client.create(Secrets, {
      metadata: { name: 'pdns', namespace: ns },
      stringData: { 'api-key': pdns.apiKey },
    });
    await issuesThrough(
      'pdns',
      pebble,
      {
        dns01: {
          pdns: {
            server: pdns.apiUrl,
            apiKeySecretRef: { name: 'pdns' },
            // The self-check asks PowerDNS itself: the zone's NS name resolves nowhere here.
            nameserver: pdns.address,
          },
        },
      },
      pdns.dig,
    );
  });
});

describe('DNS-01 through an external-dns webhook provider (v0.22, its RFC2136 provider on BIND9)', () => {
  let bind: Bind9;
  let webhook: ExternalDnsWebhook;
  let pebble: Pebble;
  beforeAll(async () => {
    bind = await startBind9({ zones: ['example.test'] });
    webhook = await startExternalDnsWebhook({ backend: { provider: 'rfc2136', server: bind } });
    pebble = await startPebble({ dnsServer: bind.address });
  });
  afterAll(async () => {
    await pebble?.stop();
    await webhook?.stop();
    await bind?.stop();
  });

  it('issues a name and its wildcard, and removes the challenge record', async () => {
    await issuesThrough(
      'hook',
      pebble,
      {
        // external-dns's providers announce no domains: the selector's zones are the zones.
        selector: { dnsZones: ['example.test'] },
        dns01: { webhook: { url: webhook.url, nameserver: bind.address } },
      },
      bind.dig,
    );
  });
});

describe('DNS-01 through Route53 (moto; Pebble asks a DNS server answering from its zone)', () => {
  let moto: Moto;
  let zoneId: string;
  let responder: DnsResponder;
  let pebble: Pebble;
  const endpointVar = 'AWS_ENDPOINT_URL_ROUTE_53';
  const before = process.env[endpointVar];
  beforeAll(async () => {
    moto = await startMoto();
    zoneId = (await moto.createHostedZone('example.test')).replace('/hostedzone/', '');
    // Route53's nameservers, played by a server reading moto's zone.
    const reader = new Route53Provider({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: moto.credentials,
    });
    const zone = { id: zoneId, name: 'example.test' };
    responder = await startDnsResponder(async (name, type) => {
      const sets = await reader.records(zone);
      if (!sets.some((r) => r.name === name)) return undefined;
      return sets.find((r) => r.name === name && r.type === type)?.values ?? [];
    });
    pebble = await startPebble({ dnsServer: responder.address });
    // The solver's Route53 client goes where an AWS SDK is told to: here, moto.
    process.env[endpointVar] = moto.endpoint;
  });
  afterAll(async () => {
    if (before === undefined) delete process.env[endpointVar];
    else process.env[endpointVar] = before;
    await pebble?.stop();
    await responder?.stop();
    await moto?.stop();
  });

  it('issues a name and its wildcard with credentials from a Secret, and removes the challenge record', async () => {
    await client.create(Secrets, {
      metadata: { name: 'aws', namespace: ns },
      stringData: {
        'access-key-id': moto.credentials.accessKeyId,
        'secret-access-key': moto.credentials.secretAccessKey,
      },
    });
    await issuesThrough(
      'r53',
      pebble,
      {
        dns01: {
          route53: {
            region: moto.region,
            hostedZoneID: zoneId,
            accessKeyIDSecretRef: { name: 'aws' },
            secretAccessKeySecretRef: { name: 'aws' },
          },
          // The self-check would ask the zone's NS servers, which do not exist here.
          selfCheck: false,
        },
      },
      digAt(responder.port),
    );
  });
});
