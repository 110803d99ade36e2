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
import { Client } from '@chousei/runtime';
import {
  type ControlPlane,
  percentile,
  startControlPlane,
  startExternalDnsWebhook,
  startPowerDNS,
  writeBenchResult,
} from '@chousei/testenv';
import {
  convergedOperator,
  createIngresses,
  createLateIngress,
  INGRESSES,
  LATENCY_SAMPLES,
  noopResync,
  sum,
  ZONE,
} from './lib/workload.ts';

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

interface Target {
  provider: Provider & { stats: HttpServiceStats };
  /** The operation that writes (counted to show a no-op resync writes nothing). */
  writeOperation: string;
  /** Whether the backing service has an A record for `name` now (false when it cannot say). */
  has(name: string): Promise<boolean>;
  /** Pause between two `has` of one sample: short for a DNS query, longer for a listing. */
  pollMs: number;
  stop(): Promise<void>;
}

/** One provider: converge over fresh Ingresses, a no-op resync, event-to-record latency. */
async function run(cp: ControlPlane, label: string, target: Target) {
  const client = new Client(cp.kubeConfig);
  const ns = await cp.createNamespace(label);
  console.log(`[${label}] creating ${INGRESSES} Ingresses...`);
  await createIngresses(client, ns);
  const { provider } = target;
  const { operator, running, convergeSeconds } = await convergedOperator(cp, provider, ns);
  const initialCalls = { ...provider.stats.calls };
  console.log(
    `[${label}] converged in ${convergeSeconds.toFixed(1)} s; calls ${JSON.stringify(initialCalls)}`,
  );
  for (const i of [0, INGRESSES - 1]) {
    if (!(await target.has(`host-${i}.${ZONE}`))) throw new Error(`[${label}] host-${i} missing`);
  }

  const before = { ...provider.stats.calls };
  await noopResync(operator);
  const resyncCalls = diff(provider.stats.calls, before);
  console.log(`[${label}] resync calls ${JSON.stringify(resyncCalls)}`);

  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t = performance.now();
    await createLateIngress(client, ns, i);
    while (!(await target.has(`late-${i}.${ZONE}`))) {
      if (performance.now() - t > 60_000)
        throw new Error(`[${label}] late-${i} not published in 60 s`);
      await new Promise((r) => setTimeout(r, target.pollMs));
    }
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
    pollMs: 5,
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
  // The in-memory provider has no DNS server: its records are what GET /records lists. The
  // listing (2 MB at 10000 records) is searched as text: parsing it every poll in the
  // operator's own process would stall the operator and inflate what is measured.
  const listed = async (name: string) => {
    const res = await fetch(`${server.url}/records`, { headers: { Accept: MEDIA_TYPE } });
    return (await res.text()).includes(`{"dnsName":"${name}","targets":`);
  };
  return {
    provider: new WebhookProvider({ url: server.url, zones: [ZONE] }),
    writeOperation: 'ApplyChanges',
    pollMs: 50,
    // A keep-alive connection the server closes as a request goes out: ask again.
    has: (name) => listed(name).catch(() => false),
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
