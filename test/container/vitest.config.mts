import { defineConfig } from 'vitest/config';

/**
 * `npm run test:container`: tests the image from the host, once the images
 * stage has built it. Kept apart from the main suite (whose include is
 * test/**\/*.test.ts) because it needs root or podman and the network; its
 * files are named *.e2e.ts so that `npm test` skips them.
 */
export default defineConfig({
  test: {
    include: ['test/container/**/*.e2e.ts'],
    // The images are built before the tests, by the images stage
    // (scripts/ci/images.ts, with its own budget): hooks only start containers.
    hookTimeout: 120_000,
    testTimeout: 60_000,
    fileParallelism: false,
  },
});
