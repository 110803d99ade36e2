import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CONTROL_PLANE_VERSIONS, goBuiltTool } from './controlplane.js';
import { cacheDir } from './tools.js';

const run = promisify(execFile);

/** The helm CLI: TEST_ASSET_HELM, or the one build-controlplane.sh built from the Go proxy. */
export const helmBinary = () => goBuiltTool('helm', 'helm.sh/helm/v3', 'TEST_ASSET_HELM');

export interface ChartOptions {
  /** Release name, default the chart's name. */
  release?: string;
  namespace?: string;
  /** Values files (`-f`), applied before `set`. */
  valuesFiles?: string[];
  /** Values as `--set-json` pairs, e.g. `{ replicas: 3, 'rbac.namespaced': true }`. */
  set?: Record<string, unknown>;
}

export interface TemplateOptions extends ChartOptions {
  /**
   * API versions the cluster serves beyond the built-in ones (`--api-versions`), as helm
   * learns them from a live cluster, e.g. `monitoring.coreos.com/v1` where CRDs add it.
   */
  apiVersions?: string[];
}

function setArgs(opts: ChartOptions): string[] {
  const values = Object.entries(opts.set ?? {}).flatMap(([k, v]) => [
    '--set-json',
    `${k}=${JSON.stringify(v)}`,
  ]);
  const namespace = opts.namespace ? ['--namespace', opts.namespace] : [];
  const files = (opts.valuesFiles ?? []).flatMap((f) => ['--values', f]);
  return [...namespace, ...files, ...values];
}

// Charts are checked against the Kubernetes version the tests run (helm assumes 1.20 offline).
function valueArgs(opts: ChartOptions): string[] {
  return ['--kube-version', CONTROL_PLANE_VERSIONS.kubernetes, ...setArgs(opts)];
}

/** Runs helm with a private home, so no user configuration or repository leaks in. */
async function helm(args: string[]): Promise<string> {
  const home = join(cacheDir(), 'helm-home');
  try {
    const { stdout } = await run(helmBinary(), args, {
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '',
        // Where a release's kube client caches discovery (HOME/.kube/cache).
        HOME: home,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
      },
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

/** `helm template` of a chart directory, CRDs included, as YAML in install order. */
export function templateChart(chartDir: string, opts: TemplateOptions = {}): Promise<string> {
  return helm([
    'template',
    opts.release ?? 'release',
    chartDir,
    '--include-crds',
    ...(opts.apiVersions ?? []).flatMap((v) => ['--api-versions', v]),
    ...valueArgs(opts),
  ]);
}

/** The objects `templateChart` renders. */
export async function renderChart(
  chartDir: string,
  opts: TemplateOptions = {},
): Promise<KubernetesObject[]> {
  return parseAllDocuments(await templateChart(chartDir, opts))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((o): o is KubernetesObject => !!o);
}

/** `helm lint --strict`; throws with helm's findings when the chart has any error or warning. */
export async function lintChart(chartDir: string, opts: ChartOptions = {}): Promise<string> {
  return helm(['lint', chartDir, '--strict', ...valueArgs(opts)]);
}

/** Where a release goes: a cluster's kubeconfig file. */
export interface ReleaseOptions extends ChartOptions {
  kubeconfig: string;
  /** helm's --timeout for --wait, default 5m. */
  timeout?: string;
}

/**
 * `helm install` (or `helm upgrade` of a release already there) of a chart directory,
 * waiting (--wait) until its Deployments are rolled out and Ready.
 */
export function installChart(
  chartDir: string,
  opts: ReleaseOptions & { upgrade?: boolean },
): Promise<string> {
  return helm([
    opts.upgrade ? 'upgrade' : 'install',
    opts.release ?? 'release',
    chartDir,
    `--kubeconfig=${opts.kubeconfig}`,
    ...(opts.upgrade ? [] : ['--create-namespace']),
    '--wait',
    `--timeout=${opts.timeout ?? '5m'}`,
    ...setArgs(opts),
  ]);
}

/** `helm uninstall --wait` of a release. */
export function uninstallChart(
  release: string,
  opts: { namespace: string; kubeconfig: string },
): Promise<string> {
  return helm([
    'uninstall',
    release,
    `--namespace=${opts.namespace}`,
    `--kubeconfig=${opts.kubeconfig}`,
    '--wait',
  ]);
}
