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
import {
  type OperatorProcess,
  percentile,
  RssSampler,
  sumMetric,
  writeBenchResult,
} from '@chousei/testenv';
import {
  coldStart as coldStartOf,
  converged,
  eventToRecord,
  minimumChangeCalls,
  type Phase,
  phase,
  providerCalls,
  round,
  sleep,
  startBench,
  startOperator,
  stopBench,
  stopOperator,
} from './lib/route53-process.ts';
import {
  createIngresses as createIngressesIn,
  createLateIngress,
  INGRESSES,
  LATENCY_SAMPLES,
} from './lib/workload.ts';

const SCALE_INGRESSES = Number(process.env.BENCH_SCALE ?? 20_000);
/**
 * The live and cold phases' resync interval, so that the resync's calls are measured: long
 * enough to converge 5000 names before it. The 20000-Ingress run keeps the default (10m),
 * as users start it: a full resync of 20000 names every minute would not let it finish.
 */
const RESYNC_INTERVAL_S = 60;
const SOURCES = ['--source=ingress'];

const bench = await startBench();
const { client } = bench;
const start = (p: Phase) => startOperator(bench, p, SOURCES, RESYNC_INTERVAL_S);
const stop = (op: OperatorProcess) => stopOperator(bench, op);
try {
  const live = await phase(bench, 'live');
  const op = await start(live);
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

  const cold = await phase(bench, 'cold');
  await createIngresses(cold.namespace, cold.zone, INGRESSES);
  const coldRun = await coldStart(cold, INGRESSES, RESYNC_INTERVAL_S);
  const coldOp = coldRun.op;
  const initialCalls = coldRun.calls;
  const { minimum, records } = await minimumChangeCalls(bench, cold, INGRESSES);

  const resyncCalls = await nextResyncCalls(coldOp);
  console.log(`resync calls ${JSON.stringify(resyncCalls)}`);

  const latencies = await eventToRecord(bench, cold, LATENCY_SAMPLES, (i) =>
    createLateIngress(client, cold.namespace, i, cold.zone),
  );
  const coldIdle = await coldOp.idleRss({ activity: ['chousei_dns_provider_requests_total'] });
  await stop(coldOp);

  let scale: { seconds: number; peakMb: number } | undefined;
  if (SCALE_INGRESSES > 0) {
    const big = await phase(bench, 'scale');
    await createIngresses(big.namespace, big.zone, SCALE_INGRESSES);
    // No --resync-interval: the default, as users start it.
    const run = await coldStart(big, SCALE_INGRESSES, undefined);
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
  await stopBench(bench);
}

/** Started over `n` existing Ingresses: seconds to converge, peak RSS, calls made. */
async function coldStart(p: Phase, n: number, resyncIntervalS: number | undefined) {
  const run = await coldStartOf(bench, p, n, SOURCES, resyncIntervalS);
  const { peakMb } = await run.sampler.stop();
  console.log(`${p.name}: peak ${peakMb.toFixed(1)} MB`);
  return { ...run, peakMb };
}

async function createIngresses(namespace: string, zone: string, n: number): Promise<void> {
  console.log(`creating ${n} Ingresses in ${namespace}...`);
  const t0 = performance.now();
  await createIngressesIn(client, namespace, zone, n);
  console.log(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
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
