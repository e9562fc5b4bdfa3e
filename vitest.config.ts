import { defineConfig } from 'vitest/config';

// In CI each run also writes a JSON report, summarised by .ci/run.
const report = process.env.TILLSYNC_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at once: vitest's default on 2 cores is one (cores - 1), and most of a
    // file's time is waiting on sockets, databases and child processes. The full suite
    // took 8.6 min on 2 cores this way (1 file at a time: 10-11 min).
    maxWorkers: 2,
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
