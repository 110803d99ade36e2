// DNS benchmark: `pnpm bench dns`. The dns-operator as its own process (dist/main.js with the
// image's Node flags, the documented Route53 flags), Route53 through moto, Ingresses with one
// host each, one zone and namespace per phase:
// - live: started on an empty namespace (idle RSS before), then 5000 Ingresses created while
//   it runs (peak RSS), converged, idle again (idle RSS after);
// - cold start: 5000 Ingresses that exist before it starts: time and Route53 calls to
//   converge, calls of a resync with nothing to change, event-to-record latency;
// - scale: 20,000 Ingresses, cold start: time to converge and peak RSS (BENCH_SCALE=0 skips).
// Writes bench/results/dns.json at the repository root. The BENCH_* variables do not pass
// through turbo: set them on `../../pnpmw exec node bench/dns.ts` instead.
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { Client } from '@chousei/runtime';
import {
  type OperatorProcess,
  percentile,
  RssSampler,
  startControlPlane,
  startMoto,
  startOperatorProcess,
  sumMetric,
  writeBenchResult,
} from '@chousei/testenv';
import {
  createIngresses as createIngressesIn,
  createLateIngress,
  INGRESSES,
  LATENCY_SAMPLES,
} from './lib/workload.ts';

const SCALE_INGRESSES = Number(process.env.BENCH_SCALE ?? 20_000);
/** The next resync comes this long after the first: long enough to converge before it. */
const RESYNC_INTERVAL_S = 60;
/** Node flags for the operator on top of its image's (diagnosis, e.g. `--trace-gc`). */
const EXTRA_NODE_FLAGS = (process.env.BENCH_OPERATOR_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const operatorDir = new URL('..', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

const cp = await startControlPlane({
  apiServerFlags: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=1000'],
});
const moto = await startMoto();
const client = new Client(cp.kubeConfig);
const running = new Set<OperatorProcess>();
try {
  const kubeconfig = await cp.writeKubeconfig(cp.kubeConfig, 'dns-operator-kubeconfig');

  const live = await phase('live');
  const op = await start(kubeconfig, live);
  const idleBefore = await op.idleRss();
  console.log(`live: idle before load ${idleBefore.medianMb.toFixed(1)} MB`);
  const liveSampler = new RssSampler(op.pid);
  const liveStart = performance.now();
  await createIngresses(live.namespace, live.zone, INGRESSES);
  await converged(op, INGRESSES);
  const liveSeconds = (performance.now() - liveStart) / 1000;
  const idleAfter = await op.idleRss({ activity: ['chousei_dns_provider_requests_total'] });
  const livePeak = (await liveSampler.stop()).peakMb;
  console.log(
    `live: created and converged in ${liveSeconds.toFixed(1)} s; peak ${livePeak.toFixed(1)} MB, idle after ${idleAfter.medianMb.toFixed(1)} MB (${idleAfter.samplesMb.join(', ')})`,
  );
  await stop(op);

  const cold = await phase('cold');
  await createIngresses(cold.namespace, cold.zone, INGRESSES);
  const coldRun = await coldStart(kubeconfig, cold, INGRESSES);
  const coldOp = coldRun.op;
  const initialCalls = coldRun.calls;

  // The fewest change calls Route53's per-request limits allow for what was written.
  const records = await moto.listRecords(cold.zoneId);
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

  const resyncCalls = await nextResyncCalls(coldOp);
  console.log(`resync calls ${JSON.stringify(resyncCalls)}`);

  const latencies = await eventToRecord(cold);
  const coldIdle = await coldOp.idleRss({ activity: ['chousei_dns_provider_requests_total'] });
  await stop(coldOp);

  let scale: { seconds: number; peakMb: number } | undefined;
  if (SCALE_INGRESSES > 0) {
    const big = await phase('scale');
    await createIngresses(big.namespace, big.zone, SCALE_INGRESSES);
    const run = await coldStart(kubeconfig, big, SCALE_INGRESSES);
    scale = { seconds: run.seconds, peakMb: run.peakMb };
    await stop(run.op);
  }

  const sum = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0);
  const result = {
    ingresses: INGRESSES,
    converge_seconds: round(coldRun.seconds, 2),
    route53_calls_initial: sum(initialCalls),
    route53_change_calls_initial: initialCalls.ChangeResourceRecordSets ?? 0,
    route53_change_calls_minimum: minimum,
    route53_calls_resync: sum(resyncCalls),
    route53_change_calls_resync: resyncCalls.ChangeResourceRecordSets ?? 0,
    route53_list_calls_resync: resyncCalls.ListResourceRecordSets ?? 0,
    records_in_zone: records.length,
    event_to_record_p50_ms: round(percentile(latencies, 50)),
    event_to_record_p99_ms: round(percentile(latencies, 99)),
    calls_initial_by_operation: initialCalls,
    rss_mb_idle_before: round(idleBefore.medianMb),
    rss_mb_peak: round(livePeak),
    rss_mb_idle_after: round(idleAfter.medianMb),
    rss_samples_idle_after: idleAfter.samplesMb,
    live_create_and_converge_seconds: round(liveSeconds),
    rss_mb_peak_cold_start: round(coldRun.peakMb),
    rss_mb_idle_after_cold_start: round(coldIdle.medianMb),
    ...(scale
      ? {
          ingresses_20k: SCALE_INGRESSES,
          converge_seconds_20k: round(scale.seconds, 2),
          rss_mb_peak_20k: round(scale.peakMb),
        }
      : {}),
    operator_node_flags: coldOp.nodeFlags,
  };
  console.log(await writeBenchResult('dns', result));
} finally {
  for (const op of running) await op.terminate(30_000);
  await moto.stop();
  await cp.stop();
}

interface Phase {
  name: string;
  namespace: string;
  zone: string;
  zoneId: string;
}

/** A namespace and a hosted zone of its own. */
async function phase(name: string): Promise<Phase> {
  const zone = `${name}.bench.test`;
  const namespace = await cp.createNamespace(name);
  return { name, namespace, zone, zoneId: await moto.createHostedZone(zone) };
}

/** As the docs start it for Route53, on one namespace and zone, credentials in the environment. */
function start(kubeconfig: string, p: Phase): Promise<OperatorProcess> {
  return startOperatorProcess({
    operatorDir,
    name: `dns-operator-${p.name}`,
    args: [
      `--kubeconfig=${kubeconfig}`,
      '--provider=route53',
      `--zone-id-filter=${p.zoneId}`,
      `--aws-endpoint=${moto.endpoint}`,
      '--source=ingress',
      `--namespace=${p.namespace}`,
      '--txt-owner-id=bench',
      `--resync-interval=${RESYNC_INTERVAL_S}s`,
      '--log-level=warn',
    ],
    env: {
      AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
      AWS_REGION: moto.region,
    },
    extraNodeFlags: EXTRA_NODE_FLAGS,
  }).then(async (op) => {
    running.add(op);
    await op.waitUntilReady(60_000);
    return op;
  });
}

async function stop(op: OperatorProcess): Promise<void> {
  running.delete(op);
  const { code } = await op.terminate(30_000);
  if (code !== 0) throw new Error(`operator exited with ${code}: ${op.process.tail(10)}`);
}

/** Started over `n` existing Ingresses: seconds to converge, peak RSS, calls made. */
async function coldStart(kubeconfig: string, p: Phase, n: number) {
  const t0 = performance.now();
  const op = await start(kubeconfig, p);
  const sampler = new RssSampler(op.pid);
  await converged(op, n);
  const seconds = (performance.now() - t0) / 1000;
  const calls = await providerCalls(op);
  const { peakMb } = await sampler.stop();
  console.log(
    `${p.name}: ${n} Ingresses converged in ${seconds.toFixed(1)} s from start; peak ${peakMb.toFixed(1)} MB; calls ${JSON.stringify(calls)}`,
  );
  return { op, seconds, peakMb, calls };
}

async function createIngresses(namespace: string, zone: string, n: number): Promise<void> {
  console.log(`creating ${n} Ingresses in ${namespace}...`);
  const t0 = performance.now();
  await createIngressesIn(client, namespace, zone, n);
  console.log(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Until `n` records were created, as the operator counts its applied changes. */
async function converged(op: OperatorProcess, n: number): Promise<void> {
  const deadline = performance.now() + 600_000;
  for (;;) {
    const created = sumMetric(await op.metricSamples(), 'chousei_dns_plan_changes_total', {
      action: 'create',
      result: 'applied',
    });
    if (created >= n) return;
    if (performance.now() > deadline) throw new Error(`only ${created} of ${n} records created`);
    await sleep(100);
  }
}

/** Route53 requests by operation, as the operator's metrics count them. */
async function providerCalls(op: OperatorProcess): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await op.metricSamples()) {
    if (s.name !== 'chousei_dns_provider_requests_total') continue;
    const k = s.labels.operation ?? '';
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

/**
 * The Route53 calls of the next full resync with nothing to change: from its start (after
 * the provider went quiet) until the provider is quiet again after it.
 */
async function nextResyncCalls(op: OperatorProcess): Promise<Record<string, number>> {
  const resyncs = async () =>
    sumMetric(await op.metricSamples(), 'chousei_dns_resync_duration_seconds_count');
  for (;;) {
    await providerQuiet(op);
    const [count, before] = [await resyncs(), await providerCalls(op)];
    while ((await resyncs()) === count) await sleep(250);
    await providerQuiet(op);
    if ((await resyncs()) === count + 1) return diff(await providerCalls(op), before);
  }
}

/** Until the operator made no Route53 call for 2 s. */
async function providerQuiet(op: OperatorProcess): Promise<void> {
  let last = '';
  let since = performance.now();
  for (;;) {
    const now = JSON.stringify(await providerCalls(op));
    if (now !== last) [last, since] = [now, performance.now()];
    else if (performance.now() - since >= 2000) return;
    await sleep(200);
  }
}

function diff(after: Record<string, number>, before: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );
}

/** An Ingress created (its target in an annotation) until Route53 answers it, ascending. */
async function eventToRecord(p: Phase): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const name = `late-${i}.${p.zone}`;
    const t = performance.now();
    await createLateIngress(client, p.namespace, i, p.zone);
    for (;;) {
      const page = await moto.route53.send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: p.zoneId,
          StartRecordName: name,
          StartRecordType: 'A',
          MaxItems: 1,
        }),
      );
      if (page.ResourceRecordSets?.[0]?.Name === `${name}.`) break;
      await sleep(5);
    }
    latencies.push(performance.now() - t);
  }
  return latencies.sort((a, b) => a - b);
}
