// DNS providers benchmark: `pnpm bench dns-providers`. 5000 Ingresses with one host each in
// one zone, for each provider reached over HTTP: PowerDNS (pdns_server, sqlite3 backend)
// and a webhook provider (external-dns v0.22's own webhook server in front of its in-memory
// provider). Time and provider calls to converge, calls of a resync with nothing to change,
// and event-to-record latency for Ingresses created among them.
// Writes bench/results/dns-providers.json at the repository root.
import { Resolver } from 'node:dns/promises';
import {
  type HttpServiceStats,
  MEDIA_TYPE,
  PowerDNSProvider,
  type Provider,
  WebhookProvider,
} from '@chousei/dns';
import { Client, createLogger, Ingresses, Manager } from '@chousei/runtime';
import { startManager, waitFor } from '@chousei/runtime/testing';
import {
  type ControlPlane,
  percentile,
  pool,
  startControlPlane,
  startExternalDnsWebhook,
  startPowerDNS,
  writeBenchResult,
} from '@chousei/testenv';
import { setupDnsOperator } from '../dist/index.js';

const INGRESSES = Number(process.env.BENCH_INGRESSES ?? 5000);
const LATENCY_SAMPLES = 50;
const ZONE = 'bench.test';

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const sum = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0);
const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

interface Target {
  provider: Provider & { stats: HttpServiceStats };
  /** The operation that writes (counted to show a no-op resync writes nothing). */
  writeOperation: string;
  /** Whether the backing service has an A record for `name` now. */
  has(name: string): Promise<boolean>;
  stop(): Promise<void>;
}

async function createIngresses(client: Client, ns: string): Promise<void> {
  await pool(
    Array.from({ length: INGRESSES }, (_, i) => i),
    32,
    async (i) => {
      await client.create(Ingresses, {
        metadata: { name: `ing-${i}`, namespace: ns },
        spec: { rules: [{ host: `host-${i}.${ZONE}` }] },
      });
      await client.patchStatus(
        Ingresses,
        { namespace: ns, name: `ing-${i}` },
        { type: 'merge', patch: { status: { loadBalancer: { ingress: [{ ip: ip(i) }] } } } },
      );
    },
  );
}

/** One provider: converge over fresh Ingresses, a no-op resync, event-to-record latency. */
async function run(cp: ControlPlane, label: string, target: Target) {
  const client = new Client(cp.kubeConfig);
  const ns = await cp.createNamespace(label);
  console.log(`[${label}] creating ${INGRESSES} Ingresses...`);
  await createIngresses(client, ns);
  const logger = createLogger({ level: process.env.BENCH_LOG ?? 'warn' });
  const manager = new Manager({
    kubeConfig: cp.kubeConfig,
    healthProbePort: false,
    metricsPort: false,
    logger,
    qps: 1000,
    burst: 1000,
  });
  const { provider } = target;
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
  const convergeSeconds = (performance.now() - started) / 1000;
  const initialCalls = { ...provider.stats.calls };
  console.log(
    `[${label}] converged in ${convergeSeconds.toFixed(1)} s; calls ${JSON.stringify(initialCalls)}`,
  );
  for (const i of [0, INGRESSES - 1]) {
    if (!(await target.has(`host-${i}.${ZONE}`))) throw new Error(`[${label}] host-${i} missing`);
  }

  const before = { ...provider.stats.calls };
  await operator.resync();
  await operator.untilIdle(new AbortController().signal);
  const resyncCalls = diff(provider.stats.calls, before);
  console.log(`[${label}] resync calls ${JSON.stringify(resyncCalls)}`);

  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const name = `late-${i}.${ZONE}`;
    const t = performance.now();
    await client.create(Ingresses, {
      metadata: {
        name: `late-${i}`,
        namespace: ns,
        annotations: { 'dns.chousei.dev/target': ip(100_000 + i) },
      },
      spec: { rules: [{ host: name }] },
    });
    while (!(await target.has(name))) await new Promise((r) => setTimeout(r, 5));
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  await running.stop();
  await target.stop();
  return {
    converge_seconds: Number(convergeSeconds.toFixed(2)),
    provider_calls_initial: sum(initialCalls),
    provider_calls_resync: sum(resyncCalls),
    write_calls_resync: resyncCalls[target.writeOperation] ?? 0,
    event_to_record_p50_ms: Number(percentile(latencies, 50).toFixed(1)),
    event_to_record_p99_ms: Number(percentile(latencies, 99).toFixed(1)),
    calls_initial_by_operation: initialCalls,
    calls_resync_by_operation: resyncCalls,
  };
}

async function powerDNS(): Promise<Target> {
  const pdns = await startPowerDNS({ zones: [ZONE] });
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([pdns.address]);
  return {
    provider: new PowerDNSProvider({ server: pdns.apiUrl, apiKey: pdns.apiKey }),
    writeOperation: 'PatchZone',
    has: (name) =>
      resolver.resolve4(name).then(
        (a) => a.length > 0,
        () => false,
      ),
    stop: () => pdns.stop(),
  };
}

async function webhook(): Promise<Target> {
  const server = await startExternalDnsWebhook({
    backend: { provider: 'inmemory', zones: [ZONE] },
  });
  return {
    provider: new WebhookProvider({ url: server.url, zones: [ZONE] }),
    writeOperation: 'ApplyChanges',
    // The in-memory provider has no DNS server: its records are what GET /records lists.
    has: async (name) => {
      const res = await fetch(`${server.url}/records`, { headers: { Accept: MEDIA_TYPE } });
      const endpoints = (await res.json()) as Array<{ dnsName: string; recordType: string }>;
      return endpoints.some((e) => e.dnsName === name && e.recordType === 'A');
    },
    stop: () => server.stop(),
  };
}

const cp = await startControlPlane({ apiServerFlags: ['--max-requests-inflight=1000'] });
try {
  const pdns = await run(cp, 'pdns', await powerDNS());
  const hook = await run(cp, 'webhook', await webhook());
  console.log(
    await writeBenchResult('dns-providers', {
      ingresses: INGRESSES,
      latency_samples: LATENCY_SAMPLES,
      pdns,
      webhook_external_dns_inmemory: hook,
    }),
  );
} finally {
  await cp.stop();
}
