// Prometheus as users run it beside the operators: Debian's prometheus and promtool, the
// rule file a chart's PrometheusRule holds, the scrape job its ServiceMonitor makes, and the
// Prometheus Operator's CRDs (from its Go module) for dry runs of both.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { pinnedVersion } from './controlplane.js';
import { MissingDependencyError } from './errors.js';
import { freePort } from './ports.js';
import { ServerProcess, waitUntilReady } from './process.js';
import { cacheDir, requireDebian } from './tools.js';

const run = promisify(execFile);

export const prometheusBinary = () => requireDebian('prometheus', 'prometheus');
export const promtoolBinary = () => requireDebian('promtool', 'prometheus');

/** Runs promtool in `cwd`; its output, or an error carrying all of it when it fails. */
export async function promtool(args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(promtoolBinary(), args, {
      ...(cwd ? { cwd } : {}),
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout + stderr;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`,
    );
  }
}

/** One alerting or recording rule, as Prometheus rule files and PrometheusRules hold it. */
export interface PrometheusRuleSpec {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Prometheus rule file: what `spec` of a PrometheusRule is. */
export interface RuleFile {
  groups: Array<{ name: string; interval?: string; rules: PrometheusRuleSpec[] }>;
}

/** The groups of every PrometheusRule among rendered chart objects, as one rule file. */
export function ruleFileOf(objects: KubernetesObject[]): RuleFile {
  const rules = objects.filter(
    (o) => o.kind === 'PrometheusRule' && o.apiVersion === 'monitoring.coreos.com/v1',
  ) as Array<KubernetesObject & { spec: RuleFile }>;
  if (!rules.length) throw new Error('no PrometheusRule among the rendered objects');
  return { groups: rules.flatMap((r) => r.spec.groups) };
}

/** A scrape job of static targets, as Prometheus reads it. */
export interface ScrapeJob {
  job: string;
  honorLabels: boolean;
  path: string;
  /** `host:port` of each target. */
  targets: string[];
}

interface ServiceMonitorEndpoint {
  port?: string;
  path?: string;
  honorLabels?: boolean;
}

/**
 * The job the Prometheus Operator makes of the chart's ServiceMonitor, with `targets` in
 * place of the Service's endpoints: named after the Service it selects (no jobLabel), with
 * the endpoint's path and honorLabels.
 */
export function scrapeJobOf(objects: KubernetesObject[], targets: string[]): ScrapeJob {
  const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as
    | (KubernetesObject & {
        spec: {
          selector: { matchLabels: Record<string, string> };
          endpoints: ServiceMonitorEndpoint[];
        };
      })
    | undefined;
  if (!monitor) throw new Error('no ServiceMonitor among the rendered objects');
  const endpoint = monitor.spec.endpoints[0]!;
  const selected = objects.filter(
    (o) =>
      o.kind === 'Service' &&
      Object.entries(monitor.spec.selector.matchLabels).every(
        ([k, v]) => o.metadata?.labels?.[k] === v,
      ) &&
      ((o as { spec?: { ports?: Array<{ name?: string }> } }).spec?.ports ?? []).some(
        (p) => p.name === endpoint.port,
      ),
  );
  if (selected.length !== 1)
    throw new Error(
      `the ServiceMonitor selects ${selected.length} Services with a port ${endpoint.port}`,
    );
  return {
    job: selected[0]!.metadata!.name!,
    honorLabels: endpoint.honorLabels ?? false,
    path: endpoint.path ?? '/metrics',
    targets,
  };
}

/** The CRDs of ServiceMonitor and PrometheusRule, from the Prometheus Operator's module. */
export async function prometheusOperatorCrds(): Promise<KubernetesObject[]> {
  const version = pinnedVersion(
    'github.com/prometheus-operator/prometheus-operator',
    'prometheus-operator',
  );
  const dir = join(cacheDir(), 'tools', `prometheus-operator-crds-${version}`);
  const files = ['servicemonitors.yaml', 'prometheusrules.yaml'].map((f) => join(dir, f));
  if (!files.every((f) => existsSync(f))) {
    throw new MissingDependencyError(
      `the Prometheus Operator ${version} CRDs (${dir})`,
      'bash packages/testenv/scripts/build-controlplane.sh',
    );
  }
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
  return texts.flatMap((t) =>
    parseAllDocuments(t)
      .map((d) => d.toJS() as KubernetesObject | null)
      .filter((o): o is KubernetesObject => !!o),
  );
}

export interface PrometheusOptions {
  jobs: ScrapeJob[];
  rules?: RuleFile;
  /** Scrape and rule evaluation interval, seconds. Default 1. */
  intervalSeconds?: number;
}

/** An alert as Prometheus's API lists it (pending or firing). */
export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
  value: string;
}

/** One series of an instant query's answer. */
export interface PrometheusSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A running Prometheus server on loopback. */
export interface Prometheus {
  url: string;
  /** An instant query; rejects with Prometheus's error (e.g. a parse error). */
  query(expr: string): Promise<PrometheusSample[]>;
  /** The alerts now pending or firing. */
  alerts(): Promise<PrometheusAlert[]>;
  /** Scrape health per job: `up` of each target. */
  targets(): Promise<Array<{ job: string; health: string; lastError: string }>>;
  stop(): Promise<void>;
}

/** Starts Debian's prometheus scraping `jobs` and evaluating `rules`, on a free loopback port. */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const bin = prometheusBinary();
  const dir = await mkdtemp(join(tmpdir(), 'chousei-prometheus-'));
  const interval = `${opts.intervalSeconds ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    ...(opts.rules ? { rule_files: ['rules.yaml'] } : {}),
    scrape_configs: opts.jobs.map((j) => ({
      job_name: j.job,
      honor_labels: j.honorLabels,
      metrics_path: j.path,
      static_configs: [{ targets: j.targets }],
    })),
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  if (opts.rules) await writeFile(join(dir, 'rules.yaml'), stringify(opts.rules));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = new ServerProcess({
    name: 'prometheus',
    command: bin,
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
  });
  await waitUntilReady(proc, async () => (await fetch(`${url}/-/ready`)).ok, 30_000);
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    query: async (expr) =>
      (await api<{ result: PrometheusSample[] }>(`query?query=${encodeURIComponent(expr)}`)).result,
    alerts: async () => (await api<{ alerts: PrometheusAlert[] }>('alerts')).alerts,
    targets: async () =>
      (
        await api<{
          activeTargets: Array<{ labels: { job: string }; health: string; lastError: string }>;
        }>('targets')
      ).activeTargets.map((t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError })),
    stop: async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
