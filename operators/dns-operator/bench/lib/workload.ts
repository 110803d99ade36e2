// What the dns-operator benchmarks share: 5000 Ingresses with one host each in one zone,
// an operator run over them until every name is published, and Ingresses created one at a
// time among them for event-to-record latency.
import type { Provider } from '@chousei/dns';
import { type Client, createLogger, Ingresses, Manager } from '@chousei/runtime';
import { type RunningManager, startManager, waitFor } from '@chousei/runtime/testing';
import { type ControlPlane, pool } from '@chousei/testenv';
import { type DnsOperator, setupDnsOperator } from '../../dist/index.js';

export const INGRESSES = Number(process.env.BENCH_INGRESSES ?? 5000);
export const LATENCY_SAMPLES = 50;
export const ZONE = 'bench.test';

/** The load balancer address of Ingress `i`. */
export const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

export const sum = (calls: Record<string, number>) =>
  Object.values(calls).reduce((a, b) => a + b, 0);

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
