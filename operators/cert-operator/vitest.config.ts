import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Most files run an operator that serves every namespace, as installed: side by side
    // they would reconcile each other's Certificates. One file at a time.
    fileParallelism: false,
  },
});
