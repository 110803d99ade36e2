// What the process benchmarks (dns.ts, dns-gateway.ts) share: the dns-operator as its own
// process (dist/main.js with the image's Node flags, the documented Route53 flags) against
// moto, one namespace and hosted zone per phase, and how convergence, calls and
// event-to-record latency are read.
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { Client } from '@chousei/runtime';
import {
  type ControlPlane,
  type Moto,
  type OperatorProcess,
  RssSampler,
  startControlPlane,
  startMoto,
  startOperatorProcess,
  sumMetric,
} from '@chousei/testenv';

/** Node flags for the operator on top of its image's (diagnosis, e.g. `--trace-gc`). */
const EXTRA_NODE_FLAGS = (process.env.BENCH_OPERATOR_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const OPERATOR_LOG = process.env.BENCH_OPERATOR_LOG;
const OPERATOR_LOG_LEVEL = process.env.BENCH_OPERATOR_LOG_LEVEL ?? 'warn';
const operatorDir = new URL('../..', import.meta.url).pathname;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** The servers of a run, and the operators running on them (terminated at the end). */
export interface Bench {
  cp: ControlPlane;
  moto: Moto;
  /** An admin client, for the workload. */
  client: Client;
  /** The operators': the admin's, in a file. */
  kubeconfig: string;
  running: Set<OperatorProcess>;
}

/** A control plane taking the workload's bursts, and moto. */
export async function startBench(): Promise<Bench> {
  const cp = await startControlPlane({
    apiServerFlags: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=1000'],
  });
  return {
    cp,
    moto: await startMoto(),
    client: new Client(cp.kubeConfig),
    kubeconfig: await cp.writeKubeconfig(cp.kubeConfig, 'dns-operator-kubeconfig'),
    running: new Set(),
  };
}

/** Terminates what still runs, then moto and the control plane. */
export async function stopBench(b: Bench): Promise<void> {
  for (const op of b.running) await op.terminate(30_000);
  await b.moto.stop();
  await b.cp.stop();
}

export interface Phase {
  name: string;
  namespace: string;
  zone: string;
  zoneId: string;
}

/** A namespace and a hosted zone of its own. */
export async function phase(b: Bench, name: string): Promise<Phase> {
  const zone = `${name}.bench.test`;
  const namespace = await b.cp.createNamespace(name);
  return { name, namespace, zone, zoneId: await b.moto.createHostedZone(zone) };
}

/**
 * As the docs start it for Route53, on one namespace and zone, credentials in the
 * environment; `args` beside (the sources, their flags).
 */
export async function startOperator(
  b: Bench,
  p: Phase,
  args: string[],
  /** Undefined: the default (10m), as users start it. */
  resyncIntervalS: number | undefined,
): Promise<OperatorProcess> {
  const op = await startOperatorProcess({
    operatorDir,
    name: `dns-operator-${p.name}`,
    args: [
      `--kubeconfig=${b.kubeconfig}`,
      '--provider=route53',
      `--zone-id-filter=${p.zoneId}`,
      `--aws-endpoint=${b.moto.endpoint}`,
      `--namespace=${p.namespace}`,
      '--txt-owner-id=bench',
      ...(resyncIntervalS ? [`--resync-interval=${resyncIntervalS}s`] : []),
      `--log-level=${OPERATOR_LOG_LEVEL}`,
      ...args,
    ],
    env: {
      AWS_ACCESS_KEY_ID: b.moto.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: b.moto.credentials.secretAccessKey,
      AWS_REGION: b.moto.region,
    },
    extraNodeFlags: EXTRA_NODE_FLAGS,
    // Diagnosis: BENCH_OPERATOR_LOG=/tmp/op keeps each phase's log in /tmp/op-PHASE.log, at
    // BENCH_OPERATOR_LOG_LEVEL (default warn).
    ...(OPERATOR_LOG ? { logFile: `${OPERATOR_LOG}-${p.name}.log` } : {}),
  });
  b.running.add(op);
  await op.waitUntilReady(60_000);
  return op;
}

export async function stopOperator(b: Bench, op: OperatorProcess): Promise<void> {
  b.running.delete(op);
  const { code } = await op.terminate(30_000);
  if (code !== 0) throw new Error(`operator exited with ${code}: ${op.process.tail(10)}`);
}

/** Until `n` records were created, as the operator counts its applied changes. */
export async function converged(op: OperatorProcess, n: number): Promise<void> {
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
export async function providerCalls(op: OperatorProcess): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of await op.metricSamples()) {
    if (s.name !== 'chousei_dns_provider_requests_total') continue;
    const k = s.labels.operation ?? '';
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

/**
 * Started over `n` objects claiming a name each: seconds to converge, calls made, and the
 * sampler of its RSS (still running: the caller stops it).
 */
export async function coldStart(
  b: Bench,
  p: Phase,
  n: number,
  args: string[],
  resyncIntervalS: number | undefined,
) {
  const t0 = performance.now();
  const op = await startOperator(b, p, args, resyncIntervalS);
  const sampler = new RssSampler(op.pid);
  await converged(op, n);
  const seconds = (performance.now() - t0) / 1000;
  const calls = await providerCalls(op);
  console.log(
    `${p.name}: ${n} names converged in ${seconds.toFixed(1)} s from start; calls ${JSON.stringify(calls)}`,
  );
  return { op, seconds, calls, sampler };
}

/**
 * The fewest change calls Route53's per-request limits (1000 values, 32,000 characters)
 * allow for the A records and ownership TXT records of the zone, and those records.
 */
export async function minimumChangeCalls(b: Bench, p: Phase, expected: number) {
  const records = await b.moto.listRecords(p.zoneId);
  const ours = records.filter(
    (r) =>
      r.Type === 'A' ||
      (r.Type === 'TXT' && r.ResourceRecords?.[0]?.Value?.includes('external-dns/owner=bench')),
  );
  const values = ours.flatMap((r) => r.ResourceRecords ?? []);
  const chars = values.reduce((n, v) => n + (v.Value?.length ?? 0), 0);
  if (ours.filter((r) => r.Type === 'A').length !== expected)
    throw new Error('not every record is in Route53');
  return {
    minimum: Math.max(Math.ceil(values.length / 1000), Math.ceil(chars / 32_000)),
    records,
  };
}

/**
 * For each of `samples` events (`event(i)`, which makes name `late-I.ZONE` claimable), the
 * milliseconds until Route53 answers its A record, ascending.
 */
export async function eventToRecord(
  b: Bench,
  p: Phase,
  samples: number,
  event: (i: number) => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const name = `late-${i}.${p.zone}`;
    const t = performance.now();
    await event(i);
    for (;;) {
      const page = await b.moto.route53.send(
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
