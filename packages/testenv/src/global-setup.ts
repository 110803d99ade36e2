import { startControlPlane } from './controlplane.js';

/**
 * A vitest `globalSetup` that starts one control plane for a whole test run and hands it
 * to every test file (`sharedCluster()` from `@chousei/testenv/vitest`); files isolate
 * themselves in namespaces of their own. Tests that restart or stall the API server
 * start a control plane of their own instead.
 *
 *   // vitest.config.ts
 *   test: { globalSetup: ['@chousei/testenv/global-setup'] }
 */
export async function setup(ctx: { provide(key: 'chouseiCluster', value: string): void }) {
  const cp = await startControlPlane();
  ctx.provide('chouseiCluster', JSON.stringify(cp.handle));
  return async () => {
    await cp.stop();
  };
}
