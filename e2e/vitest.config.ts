import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file brings up a whole world (control plane, BIND9, Pebble, two operators): one
    // at a time, so none is slowed by another's start-up.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
