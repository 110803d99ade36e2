import { Certificates, inspectCertificate, verifyChain } from '@chousei/cert-operator';
import {
  type Gateway,
  Gateways,
  type HTTPRoute,
  HTTPRoutes,
  Informer,
  type Listener,
  Secrets,
} from '@chousei/runtime';
import {
  setGatewayAddresses,
  setRouteParents,
  waitFor,
  waitForCondition,
} from '@chousei/runtime/testing';
import { describe, expect, it } from 'vitest';
import { GATEWAY } from '../src/stack.ts';
import { expectPublished, recordsRemoved, text, useStack } from './world.ts';

/** An HTTPS listener admitting routes from every namespace (the Gateway is shared). */
const https = (name: string, hostname: string, secret: string): Listener => ({
  name,
  port: 443,
  protocol: 'HTTPS',
  hostname,
  tls: { mode: 'Terminate', certificateRefs: [{ name: secret }] },
  allowedRoutes: { namespaces: { from: 'All' } },
});

describe('Gateways and an HTTPRoute asking for DNS names and certificates', () => {
  const world = useStack();
  let ns: string;
  let host: string;

  /** A Gateway in the shared namespace, with the address its controller would report. */
  const gateway = async (name: string, listeners: Listener[], issuer: string) => {
    const s = world();
    await s.client.create(Gateways, {
      metadata: {
        name,
        namespace: GATEWAY.namespace,
        annotations: { 'cert-manager.io/cluster-issuer': issuer },
      },
      spec: { gatewayClassName: 'e2e', listeners },
    } as Gateway);
    await setGatewayAddresses(s.client, { namespace: GATEWAY.namespace, name }, ['127.0.0.1']);
  };

  it("an HTTPRoute gets an A record from the dns-operator; its Gateway a certificate Pebble validated through a temporary HTTPRoute at the cert-operator's solver", async () => {
    const s = world();
    ns = await s.cluster.createNamespace('gateway');
    host = `shop.${s.zone}`;
    // Watch the temporary challenge routes come and go.
    const routes: HTTPRoute[] = [];
    const stopWatch = new AbortController();
    const informer = new Informer(s.client.transport, HTTPRoutes, {
      namespace: s.certOperator.namespace,
      labelSelector: 'cert.chousei.dev/http01-solver',
    });
    informer.addHandler({ onAdd: (r) => routes.push(r) });
    void informer.start(stopWatch.signal);
    await informer.waitForSync();

    // The platform team's Gateway: plain HTTP for every route (and the challenges), HTTPS
    // for the shop, its certificate asked for with cert-manager's annotation.
    await gateway(
      GATEWAY.name,
      [
        {
          name: GATEWAY.sectionName,
          port: 80,
          protocol: 'HTTP',
          allowedRoutes: { namespaces: { from: 'All' } },
        },
        https('shop', host, 'shop-tls'),
      ],
      s.issuers.http01Gateway,
    );
    // The application team's route, accepted by the Gateway as its controller would.
    await s.client.create(HTTPRoutes, {
      metadata: { name: 'shop', namespace: ns },
      spec: {
        parentRefs: [{ name: GATEWAY.name, namespace: GATEWAY.namespace }],
        hostnames: [host],
        rules: [{ backendRefs: [{ name: 'shop', port: 80 }] }],
      },
    });
    await setRouteParents(s.client, HTTPRoutes, { namespace: ns, name: 'shop' });

    await expectPublished(s, host, `httproute/${ns}/shop`);

    const key = { namespace: GATEWAY.namespace, name: 'shop-tls' };
    const cert = await waitForCondition(s.client, Certificates, key, 'Ready', {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect(cert.spec).toMatchObject({
      dnsNames: [host],
      issuerRef: { name: s.issuers.http01Gateway, kind: 'ClusterIssuer' },
    });
    expect(cert.status?.failedIssuanceAttempts).toBeUndefined();
    expect(cert.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Gateway', name: GATEWAY.name, controller: true }),
    ]);
    const chain = text(await s.client.get(Secrets, key), 'tls.crt');
    expect(verifyChain(chain, await s.pebble.rootCertificate())).toEqual({ valid: true });
    expect(inspectCertificate(chain).dnsNames).toEqual([host]);

    // The challenge went through an HTTPRoute on the Gateway's HTTP listener, gone since.
    expect(routes.map((r) => [r.spec?.hostnames, r.spec?.parentRefs])).toEqual([
      [[host], [expect.objectContaining(GATEWAY)]],
    ]);
    await waitFor(() => informer.store.size === 0, {
      timeoutMs: 10_000,
      description: 'the challenge HTTPRoute removed',
    });
    stopWatch.abort();
  });

  it('a second Gateway gets a wildcard certificate through DNS-01', async () => {
    const s = world();
    const wildcard = `*.internal.${s.zone}`;
    await gateway('internal', [https('internal', wildcard, 'internal-tls')], s.issuers.dns01);
    const key = { namespace: GATEWAY.namespace, name: 'internal-tls' };
    const cert = await waitForCondition(s.client, Certificates, key, 'Ready', {
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    expect(cert.spec.dnsNames).toEqual([wildcard]);
    const chain = text(await s.client.get(Secrets, key), 'tls.crt');
    expect(verifyChain(chain, await s.pebble.rootCertificate())).toEqual({ valid: true });
    expect(inspectCertificate(chain).dnsNames).toEqual([wildcard]);
    // The challenge record is gone, and the Gateway itself claims no name.
    await waitFor(
      async () => !(await s.bind.dig(`_acme-challenge.internal.${s.zone}`, 'TXT')).length,
      {
        timeoutMs: 10_000,
      },
    );
    expect(await s.bind.dig(`x.internal.${s.zone}`, 'A')).toEqual([]);
  });

  it('a detached route loses its records: A and ownership TXT', async () => {
    const s = world();
    await s.client.patch(
      HTTPRoutes,
      { namespace: ns, name: 'shop' },
      {
        type: 'merge',
        patch: { spec: { parentRefs: [] } },
      },
    );
    await setRouteParents(s.client, HTTPRoutes, { namespace: ns, name: 'shop' }, { parents: [] });
    await recordsRemoved(s, host);
    // Claiming nothing, it is not held: deleting it is immediate.
    await s.client.delete(HTTPRoutes, { namespace: ns, name: 'shop' });
    await waitFor(async () => !(await s.client.list(HTTPRoutes, { namespace: ns })).length, {
      timeoutMs: 10_000,
    });
  });
});
