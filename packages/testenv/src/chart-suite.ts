import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubernetesObject, V1Container, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { lintChart, renderChart, templateChart } from './helm.js';
import { prometheusOperatorCrds, scrapeJobOf } from './prometheus.js';
import { sharedCluster } from './shared-cluster.js';

export interface ChartSuiteOptions {
  /** The operator's deploy/ directory: chart/ and the generated install.yaml. */
  deployDir: string;
  release: string;
  /** The CRDs the code validates with; chart/crds/ must hold exactly these. */
  crds: KubernetesObject[];
  /** The operator's flag parser: the Deployment's args must be accepted by it. */
  parseArgs(args: string[], env: Record<string, string>): unknown;
  /** Values sets the chart must render, lint and dry-run with, by name. */
  variants: Record<string, Record<string, unknown>>;
}

/** The monitoring values of a chart and the Prometheus Operator kinds they turn on. */
const MONITORING = { serviceMonitor: 'ServiceMonitor', prometheusRule: 'PrometheusRule' };

/**
 * Every monitoring value a chart has, set as for kube-prometheus-stack into another
 * namespace, forced (rendered where helm cannot see the CRDs, as GitOps tools do).
 */
const MONITORING_VARIANT: Record<keyof typeof MONITORING, Record<string, unknown>> = {
  serviceMonitor: {
    enabled: true,
    forceEnable: true,
    namespace: 'monitoring',
    additionalLabels: { release: 'kube-prometheus-stack' },
    annotations: { team: 'platform' },
    interval: '15s',
    scrapeTimeout: '5s',
    relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }],
    metricRelabelings: [{ sourceLabels: ['__name__'], regex: 'nodejs_gc_.*', action: 'drop' }],
  },
  prometheusRule: {
    enabled: true,
    forceEnable: true,
    namespace: 'monitoring',
    additionalLabels: { release: 'kube-prometheus-stack' },
    for: '5m',
  },
};

const parseYaml = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o);

const container = (objects: KubernetesObject[]): V1Container => {
  const deployment = objects.find((o) => o.kind === 'Deployment') as V1Deployment | undefined;
  const c = deployment?.spec?.template.spec?.containers[0];
  if (!c) throw new Error('the chart renders no Deployment container');
  return c;
};

/**
 * The checks every operator's chart passes: generated files up to date, helm lint, secure
 * defaults, flags the operator accepts, and a server-side dry run of every rendered object
 * against the real API server, for each values variant.
 */
export function chartSuite(opts: ChartSuiteOptions): void {
  const chart = join(opts.deployDir, 'chart');
  const values = parseYaml(readFileSync(join(chart, 'values.yaml'), 'utf8'))[0] as Record<
    string,
    unknown
  >;
  const toggles = Object.entries(MONITORING).filter(([key]) => key in values);
  const monitoringVariant = Object.fromEntries(
    toggles.map(([key]) => [key, MONITORING_VARIANT[key as keyof typeof MONITORING]]),
  );
  const render = (set: Record<string, unknown> = {}) =>
    renderChart(chart, { release: opts.release, namespace: opts.release, set });

  const c: Chart = { dir: chart, opts, toggles, render };
  describe(`${opts.release} chart`, () => {
    shippedFilesTests(c);
    secureDefaultsTests(c);
    monitoringTests(c);
    const variants = {
      defaults: {},
      ...opts.variants,
      [`monitoring (${toggles.map(([key]) => key).join(', ')}) with every value, forced`]:
        monitoringVariant,
    };
    for (const [variant, set] of Object.entries(variants)) {
      describe(`with ${variant}`, () => {
        variantTests(c, set);
      });
    }
  });
}

/** What the groups of chart tests share. */
interface Chart {
  /** The chart's directory. */
  dir: string;
  opts: ChartSuiteOptions;
  /** The monitoring values the chart has, with the kind each turns on. */
  toggles: [string, string][];
  render(set?: Record<string, unknown>): Promise<KubernetesObject[]>;
}

/** The generated files are up to date: CRDs, install.yaml, the chart's version. */
function shippedFilesTests({ dir: chart, opts }: Chart): void {
  it('ships the CRDs the code validates with (scripts/generate-deploy.mjs)', async () => {
    const dir = join(chart, 'crds');
    const files = await readdir(dir);
    const shipped = (
      await Promise.all(files.map(async (f) => parseYaml(await readFile(join(dir, f), 'utf8'))))
    ).flat();
    const byName = (a: KubernetesObject, b: KubernetesObject) =>
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
    expect(shipped.sort(byName)).toEqual(JSON.parse(JSON.stringify([...opts.crds].sort(byName))));
  });

  it('ships install.yaml as the chart renders it with default values', async () => {
    const shipped = await readFile(join(opts.deployDir, 'install.yaml'), 'utf8');
    const fresh = await templateChart(chart, { release: opts.release, namespace: opts.release });
    expect(shipped.endsWith(fresh), 'run scripts/generate-deploy.mjs').toBe(true);
  });

  it("carries its operator's version (./pnpmw version-packages sets it)", async () => {
    const meta = parseYaml(await readFile(join(chart, 'Chart.yaml'), 'utf8'))[0] as {
      version?: string;
      appVersion?: string;
    };
    const pkg = JSON.parse(await readFile(join(opts.deployDir, '..', 'package.json'), 'utf8'));
    expect(meta.appVersion).toBe(meta.version);
    // 0.0.0 is never released: until then the chart names the first release's version.
    if (!pkg.private && pkg.version !== '0.0.0') expect(meta.version).toBe(pkg.version);
  });
}

function secureDefaultsTests({ render }: Chart): void {
  it('runs two non-root replicas with a read-only root and RuntimeDefault seccomp', async () => {
    const objects = await render();
    const deployment = objects.find((o) => o.kind === 'Deployment') as V1Deployment;
    const pod = deployment.spec?.template.spec;
    const c = container(objects);
    expect(deployment.spec?.replicas).toBe(2);
    expect(c.args).toContain('--leader-elect');
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.resources?.requests).toHaveProperty('memory');
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toEqual(expect.arrayContaining(['PodDisruptionBudget', 'Service']));
    const metrics = objects.find(
      (o) => o.kind === 'Service' && o.metadata?.name?.endsWith('-metrics'),
    );
    expect(metrics).toBeDefined();
  });
}

function monitoringTests({ dir: chart, opts, toggles }: Chart): void {
  it('monitors itself (ServiceMonitor, PrometheusRule) only where monitoring.coreos.com/v1 is served, or when forced', async () => {
    expect(toggles.map(([key]) => key)).toContain('serviceMonitor');
    const monitoring = (objects: KubernetesObject[]) =>
      objects.flatMap((o) => (Object.values(MONITORING).includes(o.kind ?? '') ? [o.kind] : []));
    const enabled = Object.fromEntries(toggles.map(([key]) => [`${key}.enabled`, true]));
    const forced = Object.fromEntries(toggles.map(([key]) => [`${key}.forceEnable`, true]));
    const served = ['monitoring.coreos.com/v1'];
    const renderWith = (set: Record<string, unknown>, apiVersions: string[] = []) =>
      renderChart(chart, { release: opts.release, namespace: opts.release, set, apiVersions });
    const all = toggles.map(([, kind]) => kind).sort();
    expect(monitoring(await renderWith({}, served))).toEqual([]);
    expect(monitoring(await renderWith(enabled))).toEqual([]);
    expect(monitoring(await renderWith(enabled, served)).sort()).toEqual(all);
    const objects = await renderWith({ ...enabled, ...forced });
    expect(monitoring(objects).sort()).toEqual(all);
    // It scrapes the metrics Service, and no other.
    const metrics = objects.find(
      (o) => o.kind === 'Service' && o.metadata?.name?.endsWith('-metrics'),
    );
    expect(scrapeJobOf(objects, []).job).toBe(metrics?.metadata?.name);
  });
}

/** One values variant: lints, gives the operator flags it accepts, passes a dry run. */
function variantTests({ dir: chart, opts, render }: Chart, set: Record<string, unknown>): void {
  it('passes helm lint --strict', async () => {
    await lintChart(chart, { namespace: opts.release, set });
  });

  it('passes flags the operator accepts', async () => {
    const c = container(await render(set));
    // Variables from Secrets or the downward API get a placeholder (valid base64 too).
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? 'Y2hvdXNlaQ==']));
    expect(() => opts.parseArgs(c.args ?? [], env)).not.toThrow();
  });

  it('is accepted by the API server (server-side dry run of every object)', async () => {
    const cluster = await sharedCluster();
    const objects = await render(set);
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    // Custom resources in the chart need their CRDs served; the rest is only dry-run.
    await cluster.apply(crds);
    if (objects.some((o) => o.apiVersion?.startsWith('monitoring.coreos.com/')))
      await cluster.apply(await prometheusOperatorCrds());
    await cluster.ensureNamespace(opts.release);
    for (const o of objects.filter((o) => o.kind !== 'CustomResourceDefinition')) {
      const namespace = o.metadata?.namespace;
      if (namespace) await cluster.ensureNamespace(namespace);
    }
    const applied = await cluster.apply(
      objects.filter((o) => o.kind !== 'CustomResourceDefinition'),
      { dryRun: true },
    );
    expect(applied.length).toBe(objects.length - crds.length);
  });
}
