import type { KubernetesObject } from '@kubernetes/client-node';
import { startControlPlane } from './controlplane.js';
import { type ChartOptions, renderChart } from './helm.js';
import { auditedRequests, grantedPermissions, permissionReport, rbacObjects } from './rbac.js';

/** What vitest hands a global setup: a way to pass values to test files, and the run. */
export interface SetupContext {
  provide(key: 'chouseiCluster' | 'chouseiOperator', value: string): void;
  vitest: {
    filenamePattern?: string[];
    config: { testNamePattern?: unknown };
    state: { getCountOfFailedTests(): number };
  };
}

/**
 * A vitest `globalSetup` that starts one control plane for a whole test run and hands it
 * to every test file (`sharedCluster()` from `@chousei/testenv/vitest`); files isolate
 * themselves in namespaces of their own. Tests that restart or stall the API server
 * start a control plane of their own instead.
 *
 *   // vitest.config.ts
 *   test: { globalSetup: ['@chousei/testenv/global-setup'] }
 */
export async function setup(ctx: SetupContext) {
  const cp = await startControlPlane({ auditLog: true });
  ctx.provide('chouseiCluster', JSON.stringify(cp.handle));
  return async () => {
    await cp.stop();
  };
}

/**
 * A global setup for an operator's suites that run under the RBAC its chart grants: renders
 * the chart, applies its ServiceAccount and RBAC objects, and hands the ServiceAccount to
 * `operatorKubeConfig()`. After a full, passing run it fails when the operator was refused a
 * request or never used a permission granted, read from the API server's audit log.
 *
 *   // test/global-setup.ts
 *   export const setup = chartSetup(chartDir, { release: 'cert-operator', namespace: '...' });
 */
export function chartSetup(
  chartDir: string,
  opts: ChartOptions & {
    namespace: string;
    /** Permissions only a rare path uses (e.g. a re-read after a conflict), by reason. */
    rarelyUsed?: Record<string, string>;
  },
) {
  return async (ctx: SetupContext) => {
    const cp = await startControlPlane({ auditLog: true });
    let objects: KubernetesObject[];
    try {
      objects = rbacObjects(await renderChart(chartDir, opts));
      await cp.ensureNamespace(opts.namespace);
      await cp.apply(objects);
    } catch (err) {
      await cp.stop();
      throw err;
    }
    const account = objects.find((o) => o.kind === 'ServiceAccount')?.metadata;
    if (!account?.name) throw new Error(`the chart ${chartDir} renders no ServiceAccount`);
    const sa = { namespace: opts.namespace, name: account.name };
    ctx.provide('chouseiCluster', JSON.stringify(cp.handle));
    ctx.provide('chouseiOperator', JSON.stringify(sa));
    return async () => {
      try {
        if (!cp.auditLogPath) return;
        const user = `system:serviceaccount:${sa.namespace}:${sa.name}`;
        const report = permissionReport(
          grantedPermissions(objects, sa),
          await auditedRequests(cp.auditLogPath, user),
        );
        const problems = [
          ...report.refused.map((p) => `refused: ${p}`),
          ...report.unused
            .filter((p) => !opts.rarelyUsed?.[p])
            .map((p) => `granted, never used: ${p}`),
        ];
        // Only a full, passing run has used everything: a partial one just reports refusals.
        const full = !ctx.vitest.filenamePattern?.length && !ctx.vitest.config.testNamePattern;
        if (!full || ctx.vitest.state.getCountOfFailedTests() > 0) {
          for (const p of report.refused) console.warn(`RBAC of ${chartDir}: refused: ${p}`);
          return;
        }
        if (problems.length) {
          throw new Error(
            `RBAC of ${chartDir} does not match what ${user} did:\n  ${problems.join('\n  ')}`,
          );
        }
      } finally {
        await cp.stop();
      }
    };
  };
}
