// Gateway API benchmark: `pnpm bench dns-gateway`. The dns-operator as its own process (as in
// dns.ts: dist/main.js with the image's Node flags, the documented Route53 flags, moto) with
// the gateway-httproute source, over 10 Gateways and 5000 HTTPRoutes (500 on each) that exist
// before it starts: time and Route53 calls to converge, event-to-record latency of routes
// accepted one at a time, the time for one Gateway's new address to reach its 500 routes'
// records, and peak RSS throughout (and during the cold start alone). Writes bench/results/dns-gateway.json at the repository
// root. BENCH_ROUTES changes the number of routes (set it on `../../pnpmw exec node
// bench/dns-gateway.ts`: it does not pass through turbo).
import { setGatewayAddresses } from '@chousei/runtime/testing';
import {
  installGatewayApi,
  percentile,
  RssSampler,
  sumMetric,
  writeBenchResult,
} from '@chousei/testenv';
import {
  coldStart,
  eventToRecord,
  minimumChangeCalls,
  phase,
  round,
  sleep,
  startBench,
  stopBench,
  stopOperator,
} from './lib/route53-process.ts';
import {
  createGateways,
  createRoute,
  createRoutes,
  GATEWAYS,
  ip,
  LATENCY_SAMPLES,
  ROUTES,
} from './lib/workload.ts';

const RESYNC_INTERVAL_S = 600;
const SOURCES = ['--source=gateway-httproute'];

const bench = await startBench();
const { client } = bench;
await installGatewayApi(bench.cp);
try {
  const p = await phase(bench, 'gateway');
  console.log(`creating ${GATEWAYS} Gateways and ${ROUTES} HTTPRoutes in ${p.namespace}...`);
  const t0 = performance.now();
  await createGateways(client, p.namespace, p.zone);
  await createRoutes(client, p.namespace, p.zone);
  console.log(`created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const run = await coldStart(bench, p, ROUTES, SOURCES, RESYNC_INTERVAL_S);
  const coldPeak = (await run.sampler.stop()).peakMb;
  const sampler = new RssSampler(run.op.pid);
  const { minimum } = await minimumChangeCalls(bench, p, ROUTES);
  const latencies = await eventToRecord(bench, p, LATENCY_SAMPLES, (i) =>
    createRoute(client, p.namespace, p.zone, `late-${i}`, i % GATEWAYS),
  );

  // One Gateway moves: the records of its routes (and only those) follow.
  const perGateway = Math.ceil((ROUTES + LATENCY_SAMPLES) / GATEWAYS);
  const updates = async () =>
    sumMetric(await run.op.metricSamples(), 'chousei_dns_plan_changes_total', {
      action: 'update',
      result: 'applied',
    });
  const before = await updates();
  const moved = performance.now();
  await setGatewayAddresses(client, { namespace: p.namespace, name: 'gw-0' }, [ip(300_000)]);
  while ((await updates()) - before < perGateway) await sleep(20);
  const moveSeconds = (performance.now() - moved) / 1000;
  const peakMb = Math.max(coldPeak, (await sampler.stop()).peakMb);
  console.log(
    `gw-0's new address in its ${perGateway} routes' records after ${moveSeconds.toFixed(2)} s; peak ${peakMb.toFixed(1)} MB (cold start ${coldPeak.toFixed(1)} MB)`,
  );

  const result = {
    routes: ROUTES,
    gateways: GATEWAYS,
    converge_seconds: round(run.seconds, 2),
    route53_change_calls_initial: run.calls.ChangeResourceRecordSets ?? 0,
    route53_change_calls_minimum: minimum,
    event_to_record_p50_ms: round(percentile(latencies, 50)),
    event_to_record_p99_ms: round(percentile(latencies, 99)),
    rss_mb_peak: round(peakMb),
    rss_mb_peak_cold_start: round(coldPeak),
    gateway_address_change_seconds: round(moveSeconds, 2),
    gateway_address_change_records: perGateway,
    calls_initial_by_operation: run.calls,
    operator_node_flags: run.op.nodeFlags,
  };
  await stopOperator(bench, run.op);
  console.log(await writeBenchResult('dns-gateway', result));
} finally {
  await stopBench(bench);
}
