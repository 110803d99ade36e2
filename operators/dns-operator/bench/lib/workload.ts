// What the dns-operator benchmarks share: 5000 Ingresses (or HTTPRoutes on 10 Gateways) with
// one host each in one zone, an operator run over them until every name is published, and
// objects created one at a time among them for event-to-record latency.
import type { Provider } from '@chousei/dns';
import {
  type Client,
  createLogger,
  Gateways,
  HTTPRoutes,
  Ingresses,
  Manager,
} from '@chousei/runtime';
import {
  type RunningManager,
  setGatewayAddresses,
  setRouteParents,
  startManager,
  waitFor,
} from '@chousei/runtime/testing';
import { type ControlPlane, pool } from '@chousei/testenv';
import { type DnsOperator, setupDnsOperator } from '../../dist/index.js';

export const INGRESSES = Number(process.env.BENCH_INGRESSES ?? 5000);
export const ROUTES = Number(process.env.BENCH_ROUTES ?? 5000);
export const GATEWAYS = 10;
export const LATENCY_SAMPLES = 50;
export const ZONE = 'bench.test';

/** The load balancer address of Ingress `i`. */
export const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export const sum = (calls: Record<string, number>) =>
  Object.values(calls).reduce((a, b) => a + b, 0);

/** The address of Gateway `gw-G`. */
export const gatewayIp = (g: number) => ip(200_000 + g);

/** Gateways `gw-0`..: one HTTP listener for every name of the zone, each its own address. */
export async function createGateways(client: Client, ns: string, zone: string, n = GATEWAYS) {
  for (let g = 0; g < n; g++) {
    await client.create(Gateways, {
      metadata: { name: `gw-${g}`, namespace: ns },
      spec: {
        gatewayClassName: 'bench',
        listeners: [{ name: 'http', port: 80, protocol: 'HTTP', hostname: `*.${zone}` }],
      },
    });
    await setGatewayAddresses(client, { namespace: ns, name: `gw-${g}` }, [gatewayIp(g)]);
  }
}

/**
 * HTTPRoute `NAME` for `NAME.ZONE` on Gateway `gw-G`, accepted by it as its controller would:
 * the route is claimable once its status is written.
 */
export async function createRoute(
  client: Client,
  ns: string,
  zone: string,
  name: string,
  g: number,
) {
  const parentRefs = [{ name: `gw-${g}` }];
  await client.create(HTTPRoutes, {
    metadata: { name, namespace: ns },
    spec: { parentRefs, hostnames: [`${name}.${zone}`] },
  });
  await setRouteParents(client, HTTPRoutes, { namespace: ns, name }, { parents: parentRefs });
}

/** `n` HTTPRoutes `route-I`, spread over the Gateways. */
export async function createRoutes(client: Client, ns: string, zone: string, n = ROUTES) {
  await pool(
    Array.from({ length: n }, (_, i) => i),
    32,
    (i) => createRoute(client, ns, zone, `route-${i}`, i % GATEWAYS),
  );
}

/** `n` Ingresses `ing-I` for `host-I.ZONE`, each with its load balancer address. */
export async function createIngresses(
  client: Client,
  ns: string,
  zone = ZONE,
  n = INGRESSES,
): Promise<void> {
  await pool(
    Array.from({ length: n }, (_, i) => i),
    32,
    async (i) => {
      await client.create(Ingresses, {
        metadata: { name: `ing-${i}`, namespace: ns },
        spec: { rules: [{ host: `host-${i}.${zone}` }] },
      });
      await client.patchStatus(
        Ingresses,
        { namespace: ns, name: `ing-${i}` },
        { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: ip(i) }] } } } },
      );
    },
  );
}

/** Ingress `late-I` for `late-I.ZONE`, its target in an annotation: one event, one name. */
export function createLateIngress(
  client: Client,
  ns: string,
  i: number,
  zone = ZONE,
): Promise<unknown> {
  return client.create(Ingresses, {
    metadata: {
      name: `late-${i}`,
      namespace: ns,
      annotations: { 'dns.chousei.dev/target': ip(100_000 + i) },
    },
    spec: { rules: [{ host: `late-${i}.${zone}` }] },
  });
}

/** The operator on `provider` over the Ingresses of `ns`, once every name is published. */
export async function convergedOperator(
  cp: ControlPlane,
  provider: Provider,
  ns: string,
): Promise<{ operator: DnsOperator; running: RunningManager; convergeSeconds: number }> {
  const logger = createLogger({ level: process.env.BENCH_LOG ?? 'warn' });
  const manager = new Manager({
    kubeConfig: cp.kubeConfig,
    healthProbePort: false,
    metricsPort: false,
    logger,
    qps: 1000,
    burst: 1000,
  });
  const operator = setupDnsOperator(manager, {
    provider,
    sources: ['ingress'],
    ownerId: 'bench',
    namespace: ns,
    logger,
  });
  const started = performance.now();
  const running = await startManager(manager, { timeoutMs: 60_000 });
  const published = () => [...operator.names.outcomes.values()].filter((o) => o.published).length;
  await waitFor(() => published() >= INGRESSES, { timeoutMs: 600_000, intervalMs: 20 });
  return { operator, running, convergeSeconds: (performance.now() - started) / 1000 };
}

/** Runs a resync with nothing to change; resolves once every name was looked at. */
export async function noopResync(operator: DnsOperator): Promise<void> {
  await operator.resync();
  await operator.untilIdle(new AbortController().signal);
}
