import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Daemons spawned by tests compete for two cores; keep the suite's own parallelism modest.
    maxWorkers: 2,
  },
});
