import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageEnv, operatorCommand } from './image-bundle.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';

/** One JSON log line of an operator (pino), with when it arrived. */
export interface LogLine {
  /** The level's name (`info`, `warn`, ...), as the runtime's logger writes it. */
  level: string;
  msg: string;
  at: number;
  [key: string]: unknown;
}

export interface OperatorProcessOptions {
  /** The operator's folder (operators/X): its built `dist/main.js` runs with its image's Node flags. */
  operatorDir: string;
  /** Its flags, as a user gives them; ports and the listen address are added (loopback). */
  args: string[];
  /** Its environment on top of this process's (secrets, as a Deployment passes them). */
  env?: NodeJS.ProcessEnv;
  /** Also append everything it writes to this file. */
  logFile?: string;
  /** Name in error messages; default the folder's last part. */
  name?: string;
  /** Node flags on top of the image's (diagnosis, e.g. `--trace-gc`). */
  extraNodeFlags?: string[];
}

/** An operator running as its own process, as its image runs it. */
export interface OperatorProcess {
  process: ServerProcess;
  pid: number;
  /** The Node flags it runs with: the image's, then the extra ones. */
  nodeFlags: string[];
  metricsUrl: string;
  /** `http://127.0.0.1:PORT`: /healthz and /readyz. */
  healthUrl: string;
  /** Its JSON log lines so far. */
  readonly lines: LogLine[];
  /** The first log line matching, waiting up to `timeoutMs`; fails with the log's end. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  metrics(): Promise<string>;
  /** Its /metrics, parsed. */
  metricSamples(): Promise<MetricSample[]>;
  /** Its resident set size now, in MB, as the kernel counts it. */
  rssMb(): Promise<number>;
  /**
   * Waits until it is idle (no queued or running reconcile, and no API request, queue add
   * or `activity` counter change for `quietMs`), then takes RSS samples 1 s apart.
   */
  idleRss(opts?: IdleRssOptions): Promise<IdleRss>;
  /** GET /readyz: status and body. */
  readyz(): Promise<{ status: number; body: string }>;
  /** Resolves once /readyz answers 200 (and `also`, when given, holds). */
  waitUntilReady(timeoutMs?: number, also?: () => Promise<boolean>): Promise<void>;
  /**
   * Sends SIGTERM and waits for the exit, up to `timeoutMs` (then SIGKILL): the exit code or
   * signal and the time it took.
   */
  terminate(
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: string | null; ms: number }>;
}

/**
 * Starts an operator's built command (`node FLAGS dist/main.js ARGS`, FLAGS its Dockerfile
 * ENTRYPOINT's) with metrics and probes on free loopback ports, collecting its log lines.
 */
export async function startOperatorProcess(opts: OperatorProcessOptions): Promise<OperatorProcess> {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const name = opts.name ?? opts.operatorDir.split('/').filter(Boolean).at(-1) ?? 'operator';
  const command = await operatorCommand(opts.operatorDir, [
    ...opts.args,
    `--metrics-port=${metricsPort}`,
    `--health-port=${healthPort}`,
    // Every server on loopback only: a test opens no port to the network.
    '--bind-address=127.0.0.1',
  ]);
  const script = command.findIndex((a) => a.endsWith('main.js'));
  const nodeFlags = [...command.slice(0, script), ...(opts.extraNodeFlags ?? [])];
  const proc = new ServerProcess({
    name,
    command: process.execPath,
    args: [...nodeFlags, ...command.slice(script)],
    // The image's ENV first, as the container starts with it; the caller's on top.
    env: { ...(await imageEnv(opts.operatorDir)), ...opts.env },
  });
  // setpriv execs the operator in place: the child's pid is the operator's.
  const pid = proc.child.pid ?? -1;
  const lines: LogLine[] = [];
  let buffered = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.startsWith('{')) continue;
      try {
        lines.push({ ...(JSON.parse(text) as LogLine), at: Date.now() });
      } catch {
        // Not a log line (a partial write is completed by the next chunk).
      }
    }
  });
  if (opts.logFile) {
    const log = createWriteStream(opts.logFile);
    proc.child.stdout?.pipe(log, { end: false });
    proc.child.stderr?.pipe(log, { end: false });
    proc.child.once('exit', () => log.end());
  }
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  const readyz = async () => {
    const res = await fetchAgainIfReset(`${healthUrl}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const metrics = async () => (await fetchAgainIfReset(metricsUrl)).text();
  const metricSamples = async () => parseMetrics(await metrics());
  return {
    process: proc,
    pid,
    nodeFlags,
    metricsUrl,
    healthUrl,
    lines,
    async waitForLog(match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = lines.find(match);
        if (line) return line;
        if (Date.now() > deadline || !proc.running) {
          throw new Error(
            `${name}: no such log line ${proc.running ? `within ${timeoutMs} ms` : '(it exited)'}; last output:\n${proc.tail(20)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    metrics,
    metricSamples,
    rssMb: () => rssMb(pid),
    idleRss: (idle = {}) => idleRss(pid, metricSamples, idle),
    readyz,
    waitUntilReady: (timeoutMs = 30_000, also) =>
      waitUntilReady(
        proc,
        async () => (await readyz()).status === 200 && (also ? await also() : true),
        timeoutMs,
      ),
    async terminate(timeoutMs = 60_000) {
      const started = Date.now();
      proc.child.kill('SIGTERM');
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
      const outcome = await exited;
      clearTimeout(timer);
      return { ...outcome, ms: Date.now() - started };
    },
  };
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

/** Resident set size of a process in MB, from /proc. */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]) / 1024;
}

/** Samples a process's RSS every `intervalMs` until stopped: its peak. */
export class RssSampler {
  private peak = 0;
  private count = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.timer = setInterval(() => {
      rssMb(pid).then(
        (mb) => {
          this.count++;
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
    return { peakMb: this.peak, samples: this.count + 1 };
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

/**
 * `fetch`, sent again once when the connection was reset: a kept-alive socket the operator's
 * server closed (its keep-alive timeout) just as the request went out, likelier while a busy
 * event loop answers late (a cold start over 20000 Ingresses). A scraper retries the same way.
 */
async function fetchAgainIfReset(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw err;
    return fetch(url);
  }
}
