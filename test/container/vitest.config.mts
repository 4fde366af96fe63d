import { defineConfig } from 'vitest/config';

/**
 * `npm run test:container`: builds the image with podman and tests it from
 * the host. Kept apart from the main suite (whose include is
 * test/**\/*.test.ts) because it needs root or podman, the network and a
 * minute or two; its files are named *.e2e.ts so that `npm test` skips them.
 */
export default defineConfig({
  test: {
    include: ['test/container/**/*.e2e.ts'],
    // Cold, the setup takes about four minutes (installing podman, building
    // the base image, npm ci inside the build); room for a slow mirror.
    hookTimeout: 480_000,
    testTimeout: 60_000,
    fileParallelism: false,
  },
});
