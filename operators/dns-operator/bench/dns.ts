// DNS benchmark: `pnpm bench dns`. 5000 Ingresses with one host each in one zone, Route53
// through moto: time and Route53 calls to converge, calls of a resync with nothing to
// change, and event-to-record latency for Ingresses created among them.
// Writes bench/results/dns.json at the repository root.
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { Route53Provider } from '@chousei/dns';
import { Client, createLogger, Ingresses, Manager } from '@chousei/runtime';
import { startManager, waitFor } from '@chousei/runtime/testing';
import { percentile, pool, startControlPlane, startMoto, writeBenchResult } from '@chousei/testenv';
import { setupDnsOperator } from '../dist/index.js';

const INGRESSES = Number(process.env.BENCH_INGRESSES ?? 5000);
const LATENCY_SAMPLES = 50;
const ZONE = 'bench.test';

const sum = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0);
const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const cp = await startControlPlane({ apiServerFlags: ['--max-requests-inflight=1000'] });
const moto = await startMoto();
try {
  const zoneId = await moto.createHostedZone(ZONE);
  const listAll = () => moto.listRecords(zoneId);
  const r53 = moto.route53;

  const client = new Client(cp.kubeConfig);
  const ns = await cp.createNamespace('bench');
  console.log(`creating ${INGRESSES} Ingresses...`);
  const t0 = performance.now();
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
        {
          type: 'merge',
          patch: { status: { loadBalancer: { ingress: [{ ip: ip(i) }] } } },
        },
      );
    },
  );
  console.log(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const provider = new Route53Provider({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: moto.credentials,
  });
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
  await waitFor(() => published() >= INGRESSES, { timeoutMs: 300_000, intervalMs: 20 });
  const convergeSeconds = (performance.now() - started) / 1000;
  const initialCalls: Record<string, number> = { ...provider.stats.calls };
  console.log(
    `converged in ${convergeSeconds.toFixed(1)} s; calls ${JSON.stringify(initialCalls)}`,
  );

  // The fewest change calls Route53's per-request limits allow for what was written.
  const records = await listAll();
  const ours = records.filter(
    (r) =>
      r.Type === 'A' ||
      (r.Type === 'TXT' && r.ResourceRecords?.[0]?.Value?.includes('external-dns/owner=bench')),
  );
  const values = ours.flatMap((r) => r.ResourceRecords ?? []);
  const chars = values.reduce((n, v) => n + (v.Value?.length ?? 0), 0);
  const minimum = Math.max(Math.ceil(values.length / 1000), Math.ceil(chars / 32_000));
  if (ours.filter((r) => r.Type === 'A').length !== INGRESSES)
    throw new Error('not every record is in Route53');

  // A resync with nothing to change.
  const before: Record<string, number> = { ...provider.stats.calls };
  await operator.resync();
  await operator.untilIdle(new AbortController().signal);
  const resyncCalls = Object.fromEntries(
    Object.entries(provider.stats.calls).map(([k, v]) => [k, v - (before[k] ?? 0)]),
  ) as Record<string, number>;
  console.log(`resync calls ${JSON.stringify(resyncCalls)}`);

  // Event to record: an Ingress created (its target in an annotation) until Route53 answers it.
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
    for (;;) {
      const page = await r53.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: zoneId,
          StartRecordName: name,
          StartRecordType: 'A',
          MaxItems: 1,
        }),
      );
      if (page.ResourceRecordSets?.[0]?.Name === `${name}.`) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  await running.stop();

  const result = {
    ingresses: INGRESSES,
    converge_seconds: Number(convergeSeconds.toFixed(2)),
    route53_calls_initial: sum(initialCalls),
    route53_change_calls_initial: initialCalls.ChangeResourceRecordSets ?? 0,
    route53_change_calls_minimum: minimum,
    route53_calls_resync: sum(resyncCalls),
    route53_change_calls_resync: resyncCalls.ChangeResourceRecordSets ?? 0,
    route53_list_calls_resync: resyncCalls.ListResourceRecordSets ?? 0,
    records_in_zone: records.length,
    event_to_record_p50_ms: Number(percentile(latencies, 50).toFixed(1)),
    event_to_record_p99_ms: Number(percentile(latencies, 99).toFixed(1)),
    calls_initial_by_operation: initialCalls,
  };
  console.log(await writeBenchResult('dns', result));
} finally {
  await moto.stop();
  await cp.stop();
}
