// Cert benchmark: `pnpm bench cert`. The operator as its own process (dist/main.js) against a
// real API server, Pebble (nonce rejection at its default) and BIND9: 200 Certificates over
// HTTP-01 (time from created to all Ready, ACME requests per certificate), then the
// operator's idle RSS with its 200 certificates and again after 30000 unrelated Secrets.
// Writes bench/results/cert.json at the repository root. The BENCH_* variables below do not
// pass through turbo: set them on `../../pnpmw exec node --expose-gc bench/cert.ts` instead.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { Client, Secrets } from '@chousei/runtime';
import {
  freePort,
  imageNodeFlags,
  operatorCommand,
  percentile,
  pool,
  startBind9,
  startControlPlane,
  startPebble,
  writeBenchResult,
} from '@chousei/testenv';
import { type Certificate, Certificates, CRDS, Issuers } from '../dist/index.js';

const CERTIFICATES = Number(process.env.BENCH_CERTIFICATES ?? 200);
const SECRETS = Number(process.env.BENCH_SECRETS ?? 30_000);
const ISSUE_TIMEOUT_MS = Number(process.env.BENCH_ISSUE_TIMEOUT_MS ?? 600_000);
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

/** Prometheus text format: every sample as name, labels and value. */
function parseMetrics(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}
type Samples = ReturnType<typeof parseMetrics>;
const sum = (s: Samples, name: string, match: Record<string, string> = {}) =>
  s
    .filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);
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

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  return kb / 1024;
}

const cp = await startControlPlane({
  apiServerFlags: ['--max-requests-inflight=1000', '--max-mutating-requests-inflight=1000'],
});
const bind = await startBind9({ zones: [ZONE], records: { [ZONE]: ['* 300 IN A 127.0.0.1'] } });
const solverPort = await freePort();
const pebble = await startPebble({ httpPort: solverPort, dnsServer: bind.address });
let operator: ChildProcess | undefined;
const logs: string[] = [];
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
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const flags = [
    '--kubeconfig',
    kubeconfig,
    '--cluster-resource-namespace',
    resourceNs,
    '--http01-solver-port',
    String(solverPort),
    // The self-check looks where Pebble does.
    '--http01-self-check-port',
    String(solverPort),
    '--http01-self-check-nameservers',
    bind.address,
    '--concurrency',
    '50',
    '--log-level',
    'warn',
    '--metrics-port',
    String(metricsPort),
    '--health-port',
    String(healthPort),
    '--bind-address',
    '127.0.0.1',
  ];
  // The command of the image (its ENTRYPOINT's Node flags), so what is measured is what ships.
  const command = await operatorCommand(operatorDir, flags);
  const proc = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, ...command], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  operator = proc;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      logs.push(...lines.filter(Boolean));
    });
  }
  const pid = proc.pid!;

  const fetchText = async (port: number, path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, text: await res.text() };
  };
  const metrics = async () => parseMetrics((await fetchText(metricsPort, '/metrics')).text);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`operator exited:\n${logs.join('\n')}`);
    const ok = await fetchText(healthPort, '/readyz').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`operator not ready:\n${logs.join('\n')}`);
    await sleep(200);
  }
  console.log(`operator pid ${pid} ready; ${(await rssMb(pid)).toFixed(1)} MB RSS`);

  /**
   * Idle: no queued or running work and no API or ACME request for `quietMs`, then RSS
   * samples 1 s apart; their median.
   */
  const idleRss = async (label: string, quietMs = 3000, samples = 5) => {
    const started = performance.now();
    let last = '';
    let quietSince = performance.now();
    for (;;) {
      const s = await metrics();
      const activity = [
        sum(s, 'rest_client_requests_total'),
        sum(s, 'chousei_cert_acme_requests_total'),
        sum(s, 'workqueue_adds_total'),
      ].join('/');
      const busy = sum(s, 'workqueue_depth') + sum(s, 'controller_runtime_active_workers');
      if (activity !== last || busy > 0) {
        last = activity;
        quietSince = performance.now();
      } else if (performance.now() - quietSince >= quietMs) break;
      if (performance.now() - started > 300_000) throw new Error(`${label}: never idle`);
      await sleep(500);
    }
    const idleAfter = (performance.now() - started) / 1000;
    const values: number[] = [];
    for (let i = 0; i < samples; i++) {
      if (i) await sleep(1000);
      values.push(await rssMb(pid));
    }
    values.sort((a, b) => a - b);
    const median = percentile(values, 50);
    console.log(
      `${label}: idle after ${idleAfter.toFixed(1)} s; RSS ${values.map((v) => v.toFixed(1)).join(', ')} MB (median ${median.toFixed(1)})`,
    );
    return { median, samples: values.map((v) => round(v, 1)), idleAfter };
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
  const issuerDeadline = Date.now() + 60_000;
  for (;;) {
    const issuer = await client.get(Issuers, { namespace: ns, name: 'pebble' });
    const ready = issuer.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') break;
    if (Date.now() > issuerDeadline)
      throw new Error(`Issuer not Ready: ${JSON.stringify(issuer.status)}`);
    await sleep(100);
  }
  const before = await metrics();

  // 200 Certificates at once; the clock starts when the last create has returned.
  console.log(`creating ${CERTIFICATES} Certificates...`);
  const createStart = performance.now();
  await Promise.all(
    Array.from({ length: CERTIFICATES }, (_, i) =>
      client.create(Certificates, {
        metadata: { name: `cert-${i}`, namespace: ns },
        spec: {
          secretName: `cert-${i}-tls`,
          issuerRef: { name: 'pebble' },
          dnsNames: [`c${i}.${ZONE}`],
        },
      } satisfies Certificate),
    ),
  );
  const issueStart = performance.now();
  const createSeconds = (issueStart - createStart) / 1000;
  const isReady = (c: Certificate) =>
    c.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ?? false;
  let readyCount = 0;
  let lastPrint = 0;
  const readyAt: number[] = [];
  for (;;) {
    const certs = await client.list(Certificates, { namespace: ns });
    const now = performance.now();
    const count = certs.filter(isReady).length;
    for (let i = readyCount; i < count; i++) readyAt.push((now - issueStart) / 1000);
    readyCount = count;
    if (readyCount >= CERTIFICATES) break;
    if (now - issueStart > ISSUE_TIMEOUT_MS) break;
    if (now - lastPrint > 5000) {
      lastPrint = now;
      console.log(`  ${((now - issueStart) / 1000).toFixed(0)} s: ${readyCount} Ready`);
    }
    await sleep(200);
  }
  const allReady = readyCount >= CERTIFICATES;
  const issueSeconds = (performance.now() - issueStart) / 1000;
  const rssAtReady = await rssMb(pid);
  console.log(
    allReady
      ? `all ${CERTIFICATES} Ready in ${issueSeconds.toFixed(1)} s (creates took ${createSeconds.toFixed(2)} s); RSS ${rssAtReady.toFixed(1)} MB`
      : `only ${readyCount}/${CERTIFICATES} Ready after ${issueSeconds.toFixed(0)} s`,
  );

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
  let peakRss = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, await rssMb(pid));
      await sleep(250);
    }
  })();
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
  sampling = false;
  await sampler;
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
  const stillReady = (await client.list(Certificates, { namespace: ns })).filter(isReady).length;

  proc.kill('SIGTERM');
  const exitCode = await Promise.race([exited, sleep(30_000).then(() => 'timeout' as const)]);
  if (exitCode === 'timeout') proc.kill('SIGKILL');
  operator = undefined;

  const warnings = logs.filter((l) => /"level":"(warn|error|fatal)"/.test(l));
  const messages: Record<string, number> = {};
  for (const l of warnings) {
    const msg = /"msg":"([^"]*)"/.exec(l)?.[1] ?? l.slice(0, 120);
    messages[msg] = (messages[msg] ?? 0) + 1;
  }
  if (warnings.length) console.log(`operator warnings: ${JSON.stringify(messages)}`);
  if (OPERATOR_LOG) await writeFile(OPERATOR_LOG, `${logs.join('\n')}\n`);

  const result = {
    certificates: CERTIFICATES,
    issue_seconds: allReady ? round(issueSeconds, 2) : null,
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
    operator_flags: flags.map((f) => (f === kubeconfig ? '<admin kubeconfig>' : f)),
    operator_node_flags: [...OPERATOR_NODE_FLAGS, ...(await imageNodeFlags(operatorDir))],
  };
  console.log(await writeBenchResult('cert', result));
} finally {
  if (operator && operator.exitCode === null && operator.signalCode === null) {
    operator.kill('SIGTERM');
    await new Promise((r) => operator!.once('exit', r));
  }
  await pebble.stop();
  await bind.stop();
  await cp.stop();
}
