// An operator run as users run it: its built command (dist/main.js) as its own process,
// with the image's Node flags, its probes and metrics on free loopback ports. For
// benchmarks and tests that measure what a user would see (RSS, /metrics, exit code).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { operatorCommand } from './image-bundle.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';

export interface OperatorProcessOptions {
  /** The operator's package folder (holding dist/main.js and its Dockerfile). */
  operatorDir: string;
  name: string;
  /** Its flags, without --metrics-port, --health-port and --bind-address (added here). */
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Node flags on top of the image's (diagnosis, e.g. `--trace-gc`). */
  extraNodeFlags?: string[];
  /** Default 60 s. */
  readyTimeoutMs?: number;
  /** Told every line it writes (its JSON logs), from the start. */
  onLine?: (line: string) => void;
}

export interface IdleRssOptions {
  /** Further counters whose change counts as activity (e.g. provider requests). */
  activity?: string[];
  /** Default 3 s. */
  quietMs?: number;
  /** Default 5. */
  samples?: number;
  /** Default 300 s. */
  timeoutMs?: number;
}

export interface IdleRss {
  /** Median of the samples, MB. */
  medianMb: number;
  /** Ascending, MB to 0.1. */
  samplesMb: number[];
  /** Seconds until it was idle. */
  idleAfterSeconds: number;
}

/** One sample of the Prometheus text format. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface OperatorProcess {
  readonly proc: ServerProcess;
  readonly pid: number;
  /** The Node flags it runs with (the image's, then the extra ones). */
  readonly nodeFlags: string[];
  /** Its /metrics, parsed. */
  metrics(): Promise<MetricSample[]>;
  /** Its resident set size now, in MB, as the kernel counts it. */
  rssMb(): Promise<number>;
  /**
   * Waits until it is idle (no queued or running reconcile, and no API request, queue add
   * or `activity` counter change for `quietMs`), then takes RSS samples 1 s apart.
   */
  idleRss(opts?: IdleRssOptions): Promise<IdleRss>;
  /** SIGTERM, SIGKILL after `graceMs`; the exit code (null when killed by a signal). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts the operator and resolves once its /readyz answers 200. */
export async function startOperatorProcess(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const command = await operatorCommand(opts.operatorDir, [
    ...opts.args,
    `--metrics-port=${metricsPort}`,
    `--health-port=${healthPort}`,
    '--bind-address=127.0.0.1',
  ]);
  const script = command.findIndex((a) => a.endsWith('main.js'));
  const nodeFlags = [...command.slice(0, script), ...(opts.extraNodeFlags ?? [])];
  const proc = new ServerProcess({
    name: opts.name,
    command: process.execPath,
    args: [...nodeFlags, ...command.slice(script)],
    ...(opts.env ? { env: opts.env } : {}),
  });
  if (opts.onLine) forEachLine(proc, opts.onLine);
  await waitUntilReady(
    proc,
    async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok,
    opts.readyTimeoutMs ?? 60_000,
    200,
  );
  const metrics = async () =>
    parseMetrics(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  // setpriv execs the operator in place: the child's pid is the operator's.
  const pid = proc.child.pid!;
  return {
    proc,
    pid,
    nodeFlags,
    metrics,
    rssMb: () => rssMb(pid),
    idleRss: (idle = {}) => idleRss(pid, () => metrics(), idle),
    stop: async (graceMs = 30_000) => {
      await proc.stop(graceMs);
      return proc.child.exitCode;
    },
  };
}

function forEachLine(proc: ServerProcess, onLine: (line: string) => void): void {
  for (const stream of [proc.child.stdout, proc.child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line) onLine(line);
    });
  }
}

/** Resident set size of a process in MB, from /proc. */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]) / 1024;
}

async function idleRss(
  pid: number,
  metrics: () => Promise<MetricSample[]>,
  opts: IdleRssOptions,
): Promise<IdleRss> {
  const counters = ['rest_client_requests_total', 'workqueue_adds_total', ...(opts.activity ?? [])];
  const started = performance.now();
  let last = '';
  let quietSince = performance.now();
  for (;;) {
    const s = await metrics();
    const activity = counters.map((name) => sumMetric(s, name)).join('/');
    const busy =
      sumMetric(s, 'workqueue_depth') + sumMetric(s, 'controller_runtime_active_workers');
    if (activity !== last || busy > 0) {
      last = activity;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= (opts.quietMs ?? 3000)) break;
    if (performance.now() - started > (opts.timeoutMs ?? 300_000))
      throw new Error(`never idle: ${counters.join('/')} = ${activity}, busy ${busy}`);
    await sleep(500);
  }
  const idleAfterSeconds = (performance.now() - started) / 1000;
  const values: number[] = [];
  for (let i = 0; i < (opts.samples ?? 5); i++) {
    if (i) await sleep(1000);
    values.push(await rssMb(pid));
  }
  values.sort((a, b) => a - b);
  return {
    medianMb: values[Math.floor(values.length / 2)]!,
    samplesMb: values.map((v) => Math.round(v * 10) / 10),
    idleAfterSeconds,
  };
}

/** Samples a process's RSS every `intervalMs` until stopped: its peak and every sample. */
export class RssSampler {
  private peak = 0;
  private readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 250,
  ) {
    this.timer = setInterval(() => {
      rssMb(pid).then(
        (mb) => {
          this.samples.push(mb);
          this.peak = Math.max(this.peak, mb);
        },
        () => {},
      );
    }, intervalMs);
  }

  /** Stops sampling (with one last sample) and returns the peak in MB. */
  async stop(): Promise<{ peakMb: number; samples: number }> {
    clearInterval(this.timer);
    const last = await rssMb(this.pid).catch(() => 0);
    this.peak = Math.max(this.peak, last);
    return { peakMb: this.peak, samples: this.samples.length + 1 };
  }
}

/** Prometheus text format: every sample as name, labels and value. */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
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

/** The sum of every sample of `name` whose labels include `match`. */
export function sumMetric(
  samples: MetricSample[],
  name: string,
  match: Record<string, string> = {},
): number {
  return samples
    .filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v))
    .reduce((a, x) => a + x.value, 0);
}
