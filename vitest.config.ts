import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ when stale and makes sure a Kafka broker answers (starting one if
    // needed); see the file for when it does nothing.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one Kafka broker and a 2-core machine: run files one at a time.
    fileParallelism: false,
  },
});
