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
    // Files share a worker process and its module cache: each file's fresh process and
    // imports cost about 2 s (PGlite's WebAssembly, fastify, socket.io) and were a third
    // of CI's time. A test that changes something global puts it back (`--isolate`
    // gives each file its own process again, to tell a leak from a failure).
    isolate: false,
    // On PGlite, two files at once: vitest's default on 2 cores is one (cores - 1), and
    // most of a file's time is waiting on sockets, databases and child processes (the
    // PGlite leg took 7.5 min so, against 10 at one). On a PostgreSQL server one at a
    // time: transaction ids and snapshots are the server's, not a database's, so a
    // transaction one file holds open (the lock tests do) holds back every pull of the
    // other file (pulls read the log below the oldest running transaction).
    maxWorkers: process.env.TEST_DATABASE_URL ? 1 : 2,
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
