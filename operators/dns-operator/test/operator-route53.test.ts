import { Route53Provider, route53Aliases } from '@chousei/dns';
import { Client, HTTPRoutes, Ingresses, Services } from '@chousei/runtime';
import { type RunningManager, waitFor } from '@chousei/runtime/testing';
import {
  type FaultProxy,
  installGatewayApi,
  type Moto,
  ROUTE53_THROTTLING,
  SERVICE_UNAVAILABLE,
  startFaultProxy,
  startMoto,
} from '@chousei/testenv';
import { sharedCluster } from '@chousei/testenv/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsEndpointCRD } from '../src/api/dnsendpoint.js';
import { GatewayApi, http } from './gateway-api.js';
import { startDnsOperator } from './operator.js';

describe('dns-operator against Route53 (moto), throttled', () => {
  let moto: Moto;
  let proxy: FaultProxy;
  let zoneId: string;
  let client: Client;
  let ns: string;
  let running: RunningManager;
  let throttle = true;

  /** Every record set in the zone, read from moto directly (not through the proxy). */
  const listAll = () => moto.listRecords(zoneId);
  const find = async (name: string, type: string) =>
    (await listAll()).find((r) => r.Name === `${name}.` && r.Type === type);

  beforeAll(async () => {
    moto = await startMoto();
    zoneId = await moto.createHostedZone('example.test');
    // The first change calls are throttled, then one lands but its reply is lost (503),
    // then one fails outright; later ones pass, with every fourth throttled.
    let changes = 0;
    proxy = await startFaultProxy(moto.endpoint, (req) => {
      if (!throttle || req.operation !== 'ChangeResourceRecordSets') return undefined;
      changes++;
      if (changes <= 2 || changes % 4 === 0) return ROUTE53_THROTTLING;
      if (changes === 3) return { ...SERVICE_UNAVAILABLE, afterForward: true };
      if (changes === 5) return SERVICE_UNAVAILABLE;
      return undefined;
    });
    const cluster = await sharedCluster();
    await cluster.apply([dnsEndpointCRD]);
    await installGatewayApi(cluster, 'standard');
    ns = await cluster.createNamespace('dnsr53');
    client = new Client(cluster.kubeConfig);
    running = await startDnsOperator({
      provider: new Route53Provider({
        endpoint: proxy.endpoint,
        region: moto.region,
        credentials: moto.credentials,
        backoff: { initialMs: 50, maxMs: 500 },
      }),
      sources: ['ingress', 'service', 'gateway-httproute'],
      ownerId: 'r53-test',
      namespace: ns,
      aliases: route53Aliases(),
    });
  });
  afterAll(async () => {
    await running?.stop();
    await proxy?.close();
    await moto?.stop();
  });

  it('converges 40 Ingresses through throttling and 503s, with no duplicate or lost change', async () => {
    for (let i = 0; i < 40; i++) {
      await client.create(Ingresses, {
        metadata: { name: `app-${i}`, namespace: ns },
        spec: { rules: [{ host: `app-${i}.example.test` }] },
      });
      await client.patchStatus(
        Ingresses,
        { namespace: ns, name: `app-${i}` },
        {
          type: 'merge',
          patch: { status: { loadBalancer: { ingress: [{ ip: `192.0.2.${i + 1}` }] } } },
        },
      );
    }
    await waitFor(async () => (await listAll()).filter((r) => r.Type === 'A').length === 40, {
      timeoutMs: 30_000,
    });
    const all = await listAll();
    const a = all.filter((r) => r.Type === 'A');
    const txt = all.filter((r) => r.Type === 'TXT');
    expect(new Set(a.map((r) => r.Name)).size).toBe(40);
    expect(txt).toHaveLength(40);
    expect(a.find((r) => r.Name === 'app-7.example.test.')?.ResourceRecords).toEqual([
      { Value: '192.0.2.8' },
    ]);
    expect(proxy.seen.filter((r) => r.fault === 400).length).toBeGreaterThanOrEqual(2);
    expect(proxy.seen.filter((r) => r.fault === 503).length).toBeGreaterThanOrEqual(1);
  });

  it('publishes a load balancer hostname as an alias A record, and cleans up on delete', async () => {
    throttle = false;
    await client.create(Services, {
      metadata: {
        name: 'lb',
        namespace: ns,
        annotations: {
          'external-dns.alpha.kubernetes.io/hostname': 'shop.example.test',
          'dns.chousei.dev/alias': 'true',
        },
      },
      spec: { type: 'LoadBalancer', ports: [{ port: 443 }] },
    });
    await client.patchStatus(
      Services,
      { namespace: ns, name: 'lb' },
      {
        type: 'merge',
        patch: {
          status: {
            loadBalancer: { ingress: [{ hostname: 'shop-123.us-east-1.elb.amazonaws.com' }] },
          },
        },
      },
    );
    const alias = await waitFor(() => find('shop.example.test', 'A'), { timeoutMs: 15_000 });
    expect(alias.AliasTarget?.DNSName).toBe('shop-123.us-east-1.elb.amazonaws.com.');
    expect(alias.AliasTarget?.HostedZoneId).toBe('Z35SXDOTRQ7X7K');

    await client.delete(Ingresses, { namespace: ns, name: 'app-0' });
    await client.delete(Services, { namespace: ns, name: 'lb' });
    await waitFor(
      async () =>
        !(await find('app-0.example.test', 'A')) && !(await find('shop.example.test', 'A')),
      { timeoutMs: 15_000 },
    );
    expect(await find('a-app-0.example.test', 'TXT')).toBeUndefined();
  });

  it("publishes a Gateway's load balancer hostname as A and AAAA alias records for its routes, as for any source's AWS target, a route's alias annotation or none", async () => {
    throttle = false;
    const api = new GatewayApi(client, ns);
    await api.gateway('aws', [http('web', '*.example.test')], {
      addresses: ['gw-456.eu-west-1.elb.amazonaws.com'],
    });
    await api.route(
      HTTPRoutes,
      'api',
      { parentRefs: [{ name: 'aws' }], hostnames: ['api.example.test'] },
      { annotations: { 'external-dns.alpha.kubernetes.io/alias': 'true' } },
    );
    await api.route(HTTPRoutes, 'plain', {
      parentRefs: [{ name: 'aws' }],
      hostnames: ['plain.example.test'],
    });
    // Without --aws-prefer-cname an AWS target is an alias whether the route asks or not.
    for (const name of ['api.example.test', 'plain.example.test'])
      for (const type of ['A', 'AAAA'] as const) {
        const alias = await waitFor(() => find(name, type), { timeoutMs: 15_000 });
        expect(alias.AliasTarget?.DNSName).toBe('gw-456.eu-west-1.elb.amazonaws.com.');
        expect(alias.AliasTarget?.HostedZoneId).toBe('Z32O12XQLNTSW2');
      }
    expect(await find('plain.example.test', 'CNAME')).toBeUndefined();
  });
});
