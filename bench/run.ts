/**
 * `npm run bench [-- --quick] [-- --only capture,push]`: measures TillSync on this
 * machine against DESIGN.md's budgets, prints one table and writes JSON under
 * bench/results/. PostgreSQL figures are added when TILLSYNC_BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test) is reachable. Progress goes to stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { captureBench } from './capture.js';
import { downLatencyBench } from './down-latency.js';
import { firstSyncBench } from './first-sync.js';
import { fleetBench } from './fleet.js';
import { fleetViewBench } from './fleet-view.js';
import { latencyBench } from './latency.js';
import type { Benchmark, BenchContext, Row } from './lib.js';
import { table, tempDirs } from './lib.js';
import { naiveBench } from './naive.js';
import { peerBench } from './peer.js';
import { purgeBench } from './purge.js';
import { pushBench } from './push.js';

const BENCHMARKS: readonly Benchmark[] = [captureBench, pushBench, latencyBench, downLatencyBench, firstSyncBench, fleetBench, fleetViewBench, naiveBench, peerBench, purgeBench];

async function reachable(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, runs: { type: 'string' } }, strict: true });
  const quick = values.quick ?? false;
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only?.filter((o) => !BENCHMARKS.some((b) => b.id === o));
  if (unknown && unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.map((b) => b.id).join(', ')}\n`);
    process.exit(2);
  }
  const runs = values.runs ? Number(values.runs) : quick ? 3 : 5;
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`--runs must be a positive integer\n`);
    process.exit(2);
  }
  const pgCandidate = process.env.TILLSYNC_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pgUrl = (await reachable(pgCandidate)) ? pgCandidate : undefined;
  const dirs = tempDirs();
  const started = Date.now();
  const ctx: BenchContext = {
    quick,
    runs,
    pgUrl,
    tmp: dirs.tmp,
    progress(msg, data) {
      const s = ((Date.now() - started) / 1000).toFixed(1);
      process.stderr.write(`[bench ${s}s] ${msg}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
    },
  };
  ctx.progress('starting', { quick, runs, postgres: pgUrl ? 'reachable' : 'not reachable (PGlite only)', cpus: cpus().length });
  const rows: Row[] = [];
  const failures: { id: string; error: string }[] = [];
  try {
    for (const b of BENCHMARKS) {
      if (only && !only.includes(b.id)) continue;
      ctx.progress(`${b.id}: ${b.title}`);
      try {
        const r = await b.run(ctx);
        rows.push(...r);
        process.stderr.write(`${table(r)}\n`);
      } catch (err) {
        const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
        failures.push({ id: b.id, error });
        ctx.progress(`${b.id} failed`, { error: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    dirs.cleanup();
  }
  const out = {
    startedAt: new Date(started).toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    quick,
    runs,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform },
    postgres: pgUrl !== undefined,
    rows,
    failures,
  };
  const dir = fileURLToPath(new URL('./results', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${out.startedAt.replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\nTillSync benchmarks (${quick ? 'quick' : 'full'}, median of ${runs} runs where repeated; ${out.machine.cpus} cores, node ${process.version})\n\n${table(rows)}\n\nJSON: ${file}\n`);
  if (failures.length > 0) {
    process.stdout.write(`\n${failures.length} benchmark(s) failed: ${failures.map((f) => f.id).join(', ')}\n`);
    for (const f of failures) process.stderr.write(`\n${f.id}: ${f.error}\n`);
    process.exitCode = 1;
  }
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('run.ts') || entry.endsWith('run.js')) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
