// Cert benchmark: `pnpm bench cert`. The operator as its own process (dist/main.js) against a
// real API server, Pebble (nonce rejection at its default) and BIND9: 200 Certificates over
// HTTP-01 (time from created to all Ready, ACME requests per certificate), then the
// operator's idle RSS with its 200 certificates and again after 30000 unrelated Secrets;
// then, each with an operator of its own: 200 Certificates over DNS-01 on BIND9 (RFC2136) at
// --concurrency 50, and memory per 1000 Certificates from 1000 and 3000 on a CA issuer.
// Writes bench/results/cert.json at the repository root. The BENCH_* variables below do not
// pass through turbo: set them on `../../pnpmw exec node --expose-gc bench/cert.ts` instead.
import { Client, Secrets } from '@chousei/runtime';
import {
  freePort,
  type MetricSample,
  type OperatorProcess,
  parseMetrics,
  percentile,
  pool,
  RssSampler,
  startBind9,
  startControlPlane,
  startPebble,
  sumMetric as sum,
  writeBenchResult,
} from '@chousei/testenv';
import { CRDS, Issuers } from '../dist/index.js';
import { type CertPhases, certPhases } from './lib/phases.ts';

const CERTIFICATES = Number(process.env.BENCH_CERTIFICATES ?? 200);
const SECRETS = Number(process.env.BENCH_SECRETS ?? 30_000);
const ISSUE_TIMEOUT_MS = Number(process.env.BENCH_ISSUE_TIMEOUT_MS ?? 600_000);
/** Certificates of the CA-issuer memory run, at its two points (BENCH_CA_SCALE=0 skips it). */
const CA_SCALE = Number(process.env.BENCH_CA_SCALE ?? 1000);
/** Node flags for the operator process on top of its image's (diagnosis, e.g. `--trace-gc`). */
const OPERATOR_NODE_FLAGS = (process.env.BENCH_OPERATOR_NODE_FLAGS ?? '')
  .split(' ')
  .filter(Boolean);
/** Where to write the operator's output at the end (diagnosis only). */
const OPERATOR_LOG = process.env.BENCH_OPERATOR_LOG;
const ZONE = 'example.test';
const operatorDir = new URL('..', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

type Samples = MetricSample[];
/** Sums of `name` grouped by one label, as an object. */
const byLabel = (s: Samples, name: string, label: string, match: Record<string, string> = {}) => {
  const out: Record<string, number> = {};
  for (const x of s) {
    if (x.name !== name) continue;
    if (!Object.entries(match).every(([k, v]) => x.labels[k] === v)) continue;
    const k = x.labels[label] ?? '';
    out[k] = (out[k] ?? 0) + x.value;
  }
  return out;
};
const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, round(v - (before[k] ?? 0), 3)] as const)
      .filter(([, v]) => v !== 0),
  );

const cp = await startControlPlane({
  apiServerFlags: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=1000'],
});
const bind = await startBind9({ zones: [ZONE], records: { [ZONE]: ['* 300 IN A 127.0.0.1'] } });
const solverPort = await freePort();
const pebble = await startPebble({ httpPort: solverPort, dnsServer: bind.address });
let operator: OperatorProcess | undefined;
try {
  await cp.apply(CRDS);
  const client = new Client(cp.kubeConfig);
  const ns = await cp.createNamespace('bench');
  const resourceNs = await cp.createNamespace('cert-operator');
  /**
   * Watch events the API server sent for Secrets, to all its watchers: the API server's own
   * (it watches every Secret through its loopback client) and the operator's.
   */
  const secretWatchEvents = async () => {
    const res = await client.transport.open('GET', '/metrics', { accept: 'text/plain' });
    let text = '';
    for await (const chunk of res) text += String(chunk);
    const series = parseMetrics(text).filter(
      (x) =>
        x.name === 'apiserver_watch_events_total' &&
        (x.labels.resource === 'secrets' || x.labels.kind === 'Secret'),
    );
    if (!series.length) throw new Error('no apiserver_watch_events_total series for Secrets');
    return series.reduce((a, x) => a + x.value, 0);
  };
  const payload = (i: number) =>
    `${i}:`.padEnd(1000, String.fromCharCode(97 + (i % 26)) + i.toString(36));
  const noiseSecret = (noiseNs: string, name: string, i: number) =>
    client.create(Secrets, {
      metadata: { name, namespace: noiseNs, labels: { app: 'bench' } },
      type: 'Opaque',
      stringData: { payload: payload(i) },
    });
  // Calibration, before the operator runs: watch events per Secret without it.
  const noise = await cp.createNamespace('noise');
  const CALIBRATION = 100;
  const calibrationBefore = await secretWatchEvents();
  await pool(
    Array.from({ length: CALIBRATION }, (_, i) => i),
    8,
    (i) => noiseSecret(noise, `calibration-${i}`, -1 - i),
  );
  await sleep(1000);
  const eventsPerSecretWithoutOperator =
    ((await secretWatchEvents()) - calibrationBefore) / CALIBRATION;

  const kubeconfig = await cp.writeKubeconfig(cp.kubeConfig, 'cert-operator-kubeconfig');
  const phases: CertPhases = certPhases({
    client,
    operatorDir,
    kubeconfig,
    resourceNs,
    solverPort,
    bind,
    pebble,
    zone: ZONE,
    extraNodeFlags: OPERATOR_NODE_FLAGS,
    issueTimeoutMs: ISSUE_TIMEOUT_MS,
  });
  operator = await phases.start(OPERATOR_LOG);
  const { flags } = phases;
  const { nodeFlags } = operator;
  const { pid } = operator;
  const metrics = () => operator!.metricSamples();
  console.log(`operator pid ${pid} ready; ${(await operator.rssMb()).toFixed(1)} MB RSS`);

  /** Idle (no API or ACME request, nothing queued), then the median of RSS samples. */
  const idleRss = async (label: string) => {
    const idle = await operator!.idleRss({ activity: ['chousei_cert_acme_requests_total'] });
    console.log(
      `${label}: idle after ${idle.idleAfterSeconds.toFixed(1)} s; RSS ${idle.samplesMb.join(', ')} MB (median ${idle.medianMb.toFixed(1)})`,
    );
    return { median: idle.medianMb, samples: idle.samplesMb, idleAfter: idle.idleAfterSeconds };
  };

  await client.create(Issuers, {
    metadata: { name: 'pebble', namespace: ns },
    spec: {
      acme: {
        server: pebble.directoryUrl,
        email: 'ops@example.test',
        privateKeySecretRef: { name: 'pebble-account' },
        caBundle: Buffer.from(pebble.tlsCaPem).toString('base64'),
        solvers: [{ http01: {} }],
      },
    },
  });
  await phases.issuerReady(ns, 'pebble');
  const before = await metrics();

  // 200 Certificates at once; the clock starts when the last create has returned.
  const { createSeconds, readyCount, readyAt, issueSeconds } = await phases.issue(
    ns,
    'pebble',
    CERTIFICATES,
  );
  const rssAtReady = await operator.rssMb();
  console.log(`creates took ${createSeconds} s; RSS ${rssAtReady.toFixed(1)} MB`);

  // Idle with its certificates; the issuance counts include what followed the last Ready.
  await sleep(3000);
  const baseline = await idleRss('baseline (200 certificates)');
  const afterIssue = await metrics();
  const acmeRequests =
    sum(afterIssue, 'chousei_cert_acme_requests_total') -
    sum(before, 'chousei_cert_acme_requests_total');
  const apiRequests =
    sum(afterIssue, 'rest_client_requests_total') - sum(before, 'rest_client_requests_total');
  const acmeByEndpoint = diff(
    byLabel(afterIssue, 'chousei_cert_acme_requests_total', 'endpoint'),
    byLabel(before, 'chousei_cert_acme_requests_total', 'endpoint'),
  );
  const acmeByStatus = diff(
    byLabel(afterIssue, 'chousei_cert_acme_requests_total', 'status'),
    byLabel(before, 'chousei_cert_acme_requests_total', 'status'),
  );
  const apiByMethod = diff(
    byLabel(afterIssue, 'rest_client_requests_total', 'method'),
    byLabel(before, 'rest_client_requests_total', 'method'),
  );
  const issuanceAttempts = diff(
    byLabel(afterIssue, 'chousei_cert_issuance_attempts_total', 'result'),
    byLabel(before, 'chousei_cert_issuance_attempts_total', 'result'),
  );
  const reconcile = (s: Samples) => ({
    count: sum(s, 'controller_runtime_reconcile_time_seconds_count', {
      controller: 'certificates',
    }),
    seconds: sum(s, 'controller_runtime_reconcile_time_seconds_sum', {
      controller: 'certificates',
    }),
  });
  const [rb, ra] = [reconcile(before), reconcile(afterIssue)];
  const reconciles = ra.count - rb.count;
  const reconcileSecondsTotal = ra.seconds - rb.seconds;
  console.log(
    `ACME requests ${acmeRequests} (${(acmeRequests / CERTIFICATES).toFixed(1)}/certificate) ${JSON.stringify(acmeByEndpoint)} ${JSON.stringify(acmeByStatus)}`,
  );
  console.log(
    `API requests ${apiRequests} (${(apiRequests / CERTIFICATES).toFixed(1)}/certificate) ${JSON.stringify(apiByMethod)}; certificate reconciles ${reconciles}, ${reconcileSecondsTotal.toFixed(1)} s in total; issuance ${JSON.stringify(issuanceAttempts)}`,
  );

  // 30000 unrelated Secrets: Opaque, about 1 KB of distinct content each, no managed label.
  console.log(`creating ${SECRETS} Secrets...`);
  const sampler = new RssSampler(pid);
  const beforeSecrets = await metrics();
  const watchEventsBefore = await secretWatchEvents();
  const secretsStart = performance.now();
  await pool(
    Array.from({ length: SECRETS }, (_, i) => i),
    32,
    (i) => noiseSecret(noise, `noise-${i}`, i),
  );
  const secretsSeconds = (performance.now() - secretsStart) / 1000;
  console.log(`created in ${secretsSeconds.toFixed(1)} s`);
  const withSecrets = await idleRss('with 30k Secrets');
  const peakRss = (await sampler.stop()).peakMb;
  const afterSecrets = await metrics();
  await sleep(1000);
  const secretWatchEventsSent = (await secretWatchEvents()) - watchEventsBefore;
  const operatorSecretEvents = secretWatchEventsSent - SECRETS * eventsPerSecretWithoutOperator;
  console.log(
    `Secret watch events sent: ${secretWatchEventsSent} (${eventsPerSecretWithoutOperator} per Secret without the operator): ${operatorSecretEvents} to the operator`,
  );
  const apiDuringSecrets = diff(
    byLabel(afterSecrets, 'rest_client_requests_total', 'method'),
    byLabel(beforeSecrets, 'rest_client_requests_total', 'method'),
  );
  const stillReady = await phases.readyIn(ns);

  const { code: exitCode } = await operator.terminate(30_000);

  const warnings = operator.lines.filter((l) => ['warn', 'error', 'fatal'].includes(l.level));
  const messages: Record<string, number> = {};
  for (const l of warnings) messages[l.msg] = (messages[l.msg] ?? 0) + 1;
  if (warnings.length) console.log(`operator warnings: ${JSON.stringify(messages)}`);

  operator = undefined;
  const dns01 = await phases.dns01(await cp.createNamespace('dns01'), CERTIFICATES);
  const caScale =
    CA_SCALE > 0 ? await phases.caScale(await cp.createNamespace('ca'), CA_SCALE) : undefined;

  const result = {
    certificates: CERTIFICATES,
    issue_seconds: issueSeconds,
    certificates_ready: readyCount,
    certificates_ready_after_secrets: stillReady,
    certificates_create_seconds: round(createSeconds, 2),
    ready_p50_seconds: round(percentile(readyAt, 50), 2),
    ready_p90_seconds: round(percentile(readyAt, 90), 2),
    acme_requests_per_certificate: round(acmeRequests / CERTIFICATES, 2),
    acme_requests_by_endpoint: acmeByEndpoint,
    acme_requests_by_status: acmeByStatus,
    api_requests_per_certificate: round(apiRequests / CERTIFICATES, 2),
    api_requests_by_method: apiByMethod,
    certificate_reconciles: reconciles,
    certificate_reconcile_seconds_mean: round(reconcileSecondsTotal / Math.max(1, reconciles), 3),
    issuance_attempts: issuanceAttempts,
    rss_mb_at_all_ready: round(rssAtReady, 1),
    rss_mb_baseline: round(baseline.median, 1),
    rss_mb_with_30k_secrets: round(withSecrets.median, 1),
    rss_mb_delta_30k_secrets: round(withSecrets.median - baseline.median, 1),
    rss_mb_peak_during_secrets: round(peakRss, 1),
    rss_samples_baseline: baseline.samples,
    rss_samples_with_30k_secrets: withSecrets.samples,
    secrets: SECRETS,
    secrets_create_seconds: round(secretsSeconds, 1),
    secrets_idle_after_seconds: round(withSecrets.idleAfter, 1),
    api_requests_during_secrets: apiDuringSecrets,
    secret_watch_events_to_operator: operatorSecretEvents,
    secret_watch_events_sent_total: secretWatchEventsSent,
    secret_watch_events_per_secret_without_operator: eventsPerSecretWithoutOperator,
    operator_exit: exitCode,
    operator_warnings: messages,
    dns01_certificates: CERTIFICATES,
    dns01_certificates_ready: dns01.readyCount,
    dns01_issue_seconds: dns01.issueSeconds,
    dns01_zone_reads: dns01.zoneReads,
    rss_mb_idle_with_certificates: dns01.idleMb,
    ...(caScale
      ? {
          ca_certificates: [caScale.first, caScale.second],
          rss_mb_idle_ca: caScale.idleMb,
          rss_mb_per_1000_certificates: caScale.perThousandMb,
          rss_mb_idle_ca_settled: caScale.settledMb,
          rss_mb_per_1000_certificates_settled: caScale.perThousandSettledMb,
        }
      : {}),
    operator_flags: flags.map((f) => (f === kubeconfig ? '<admin kubeconfig>' : f)),
    operator_node_flags: nodeFlags,
  };
  console.log(await writeBenchResult('cert', result));
} finally {
  await operator?.terminate(30_000);
  await pebble.stop();
  await bind.stop();
  await cp.stop();
}
