/**
 * Issue 14: delivery down. HQ changes a product's price by plain SQL at central; how
 * long until the till's SQLite row holds it, with 1 and with 100 tills online, beside
 * the up direction (a sale, POS commit -> central commit, measured in the same run as
 * bench/latency.ts does); and a bulk HQ import of 100k rows with tills online: hints
 * sent per till and the time from the import's last commit until every till holds it.
 *
 * Central runs in its own process on a scratch PostgreSQL database when the server is
 * reachable (its CPU its own; HQ writes through a plain pg connection), else in this
 * process on PGlite. The tills are real engines (SyncService, realtime on, prompt
 * mode, their own SQLite files, the interval an hour away) in 1-2 forked processes
 * (down-worker.ts), which note the moment a till's row holds the price at the
 * engine's own event (see there). The commit's moment is taken right after the UPDATE
 * returns. Same machine, same clock.
 *
 * Two series per fleet size: changes spaced 1.2-1.8 s apart (each hinted at once), and
 * changes every 200-500 ms, a trickle that central's hint coalescer must not take for
 * an import (it did until e39079c: its window doubled to 4 s while changes kept
 * coming). A change counts as applied when the till holds it or a later price, and as
 * held back when the till pulled after its commit without getting it (README).
 * The bulk import's rows have UUID ids, as central's rows do.
 *
 * Knobs (environment): TILLSYNC_BENCH_DOWN_N=1,100 (fleet sizes),
 * TILLSYNC_BENCH_DOWN_WORKERS=2 (processes for the tills of a large fleet),
 * TILLSYNC_BENCH_DOWN_BULK=100000 (rows), TILLSYNC_BENCH_DOWN_BULK_TILLS=1,10 (tills
 * online, one import each), TILLSYNC_BENCH_DOWN_PROF=<dir> (the till processes run
 * with --cpu-prof into that directory).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import Database from 'better-sqlite3';
import { cpuMark, pullMetrics, startFleet, startHq, type Fleet, type Hq } from './down-fleet.js';
import type { BulkTill, Sample, TillCounts, TillSpec } from './down-worker.js';
import { PRICE_BASE } from './down-worker.js';
import { DEFAULT_HINT_TIMING } from '../src/server/services/change-hints.js';
import { measure as measureUp } from './latency.js';
import { median, percentile, round, sleep, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';

const P50_BUDGET_MS = 1000;
const P99_BUDGET_MS = 3000;

// ------------------------------------------------------------------ HQ commit -> till

interface SeriesResult {
  readonly name: 'spaced' | 'steady';
  readonly changes: number;
  /** Every (till, change): applied - committed, ms. */
  readonly latencies: number[];
  /** Per change, the slowest till, ms. */
  readonly slowest: number[];
  readonly missing: number;
  readonly byFallback: number;
  /** Samples (and distinct changes) a pull after the commit did not bring: the next change's hint did. */
  readonly heldBack: number;
  readonly heldBackChanges: number;
  /** Medians over (till, change) where known, ms. */
  readonly breakdown: { toNotice: number; toHint: number; hintToProbe: number; hintToPull: number; pull: number; apply: number };
  /** The slowest sample's parts, ms (the same parts as `breakdown`). */
  readonly worst: { latency: number; toNotice: number; toHint: number; hintToProbe: number; hintToPull: number; pull: number; apply: number };
  /** Central's own handling of pull requests during the series (its request-duration histogram): mean ms, and requests. */
  readonly centralPullMs: number;
  readonly centralPulls: number;
  /** N=1 only: the same changes seen by polling the till's file every 2 ms from here (p50 of poll - engine event, ms). */
  readonly pollMinusEventMs: number;
}

let seqCounter = 0;

async function series(
  hq: Hq,
  fleet: Fleet,
  productId: string,
  name: SeriesResult['name'],
  changes: number,
  gapMs: [number, number],
): Promise<SeriesResult> {
  const firstSeq = seqCounter;
  const lastSeq = firstSeq + changes - 1;
  seqCounter += changes;
  const timeoutMs = changes * gapMs[1] + 60_000;
  await Promise.all(fleet.procs.map((p) => p.ask({ type: 'watch', serverId: productId, firstSeq, lastSeq, timeoutMs }, 'armed', 10_000)));
  const applied = Promise.all(fleet.procs.map((p) => p.next('applied', timeoutMs + 10_000)));
  applied.catch(() => undefined);
  // N=1: a second witness, a read-only connection polling the till's file every 2 ms.
  const polled = new Map<number, number>();
  let poll: NodeJS.Timeout | undefined;
  let file: Database.Database | undefined;
  if (fleet.specs.length === 1) {
    file = new Database(`${fleet.dir}/${(fleet.specs[0] as TillSpec).terminalId}.db`, { readonly: true, fileMustExist: true });
    const read = file.prepare(`SELECT price FROM products WHERE server_id = ?`);
    poll = setInterval(() => {
      const r = read.get(productId) as { price: number | string } | undefined;
      const seq = r ? Math.round(Number(r.price) - PRICE_BASE) : -Infinity;
      for (let s = Math.min(seq, lastSeq); s >= firstSeq && !polled.has(s); s--) polled.set(s, Date.now());
      if (polled.has(lastSeq)) clearInterval(poll);
    }, 2);
  }
  const pulls0 = await pullMetrics(hq);
  const committed: number[] = [];
  const sent: number[] = [];
  for (let i = 0; i < changes; i++) {
    const due = Date.now() + gapMs[0] + Math.random() * (gapMs[1] - gapMs[0]);
    sent.push(Date.now());
    await hq.sql(`UPDATE products SET price = $2 WHERE id = $1`, [productId, PRICE_BASE + firstSeq + i]);
    committed.push(Date.now());
    if (i < changes - 1) await sleep(due - Date.now());
  }
  const answers = await applied.finally(() => {
    clearInterval(poll);
    file?.close();
  });
  const samples: Sample[] = answers.flatMap((a) => a.samples);
  const pullsOf = new Map(answers.flatMap((a) => Object.entries(a.pulls)));
  const pulls1 = await pullMetrics(hq);
  const lat = (s: Sample) => s.appliedAt - (committed[s.seq - firstSeq] as number);
  // The announcement of change i: the first one heard after its UPDATE was sent.
  const heard = sent.map((at) => hq.productNotices.find((n) => n >= at) ?? NaN);
  const known = samples.filter((s) => Number.isFinite(s.appliedAt));
  const slowest: number[] = [];
  for (let i = 0; i < changes; i++) {
    const mine = samples.filter((s) => s.seq === firstSeq + i);
    slowest.push(mine.some((s) => !Number.isFinite(s.appliedAt)) ? NaN : Math.max(...mine.map(lat)));
  }
  const med = (f: (s: Sample) => number) => median(known.map(f).filter(Number.isFinite));
  const parts = (s: Sample, at: number) => ({
    toNotice: (heard[s.seq - firstSeq] as number) - at,
    toHint: s.hintStampedAt - at,
    hintToProbe: s.hintReceivedAt - s.hintStampedAt,
    hintToPull: s.pullSentAt - s.hintStampedAt,
    pull: s.pullAnsweredAt - s.pullSentAt,
    apply: s.appliedAt - s.pullAnsweredAt,
  });
  /**
   * Held back: the till pulled after the commit, and that pull did not bring the change
   * (an earlier answer than the one that did). The change was committed, so the page
   * stopped below it: the pull serves the log only below the oldest transaction still
   * running anywhere on the server (pull.ts, invariant 4), and no second hint comes.
   */
  const heldBack = known.filter((s) => {
    const at = committed[s.seq - firstSeq] as number;
    return (pullsOf.get(s.terminalId) ?? []).some(([sentAt, answeredAt]) => sentAt >= at && answeredAt < s.pullAnsweredAt);
  });
  const worst = known.reduce<Sample | undefined>((w, s) => (!w || lat(s) > lat(w) ? s : w), undefined);
  return {
    name,
    changes,
    latencies: known.map(lat),
    slowest: slowest.filter(Number.isFinite),
    missing: samples.length - known.length,
    byFallback: known.filter((s) => s.byFallback).length,
    heldBack: heldBack.length,
    heldBackChanges: new Set(heldBack.map((s) => s.seq)).size,
    worst: worst
      ? { latency: lat(worst), ...parts(worst, committed[worst.seq - firstSeq] as number) }
      : { latency: NaN, toNotice: NaN, toHint: NaN, hintToProbe: NaN, hintToPull: NaN, pull: NaN, apply: NaN },
    centralPullMs: ((pulls1.sum - pulls0.sum) / (pulls1.count - pulls0.count)) * 1000,
    centralPulls: pulls1.count - pulls0.count,
    breakdown: {
      toNotice: median(heard.map((h, i) => h - (committed[i] as number)).filter(Number.isFinite)),
      toHint: med((s) => s.hintStampedAt - (committed[s.seq - firstSeq] as number)),
      hintToProbe: med((s) => s.hintReceivedAt - s.hintStampedAt),
      hintToPull: med((s) => s.pullSentAt - s.hintStampedAt),
      pull: med((s) => s.pullAnsweredAt - s.pullSentAt),
      apply: med((s) => s.appliedAt - s.pullAnsweredAt),
    },
    pollMinusEventMs:
      fleet.specs.length === 1 ? median(known.filter((s) => polled.has(s.seq)).map((s) => (polled.get(s.seq) as number) - s.appliedAt)) : NaN,
  };
}

interface LevelResult {
  readonly n: number;
  readonly kind: DbKind;
  readonly workers: number;
  readonly startMs: number;
  readonly series: SeriesResult[];
  readonly cpu: ReturnType<ReturnType<typeof cpuMark>>;
  readonly tillRssMb: number;
  /** The till processes' RSS before any engine started (Node, tsx and the modules). */
  readonly rssBeforeMb: number;
  readonly loopDelayP99Ms: number;
}

async function downLevel(ctx: BenchContext, n: number, counts: { spaced: number; steady: number }): Promise<LevelResult> {
  const hq = await startHq(ctx);
  try {
    const productId = randomUUID();
    await hq.sql(`INSERT INTO products (id, sku, name, price) VALUES ($1, 'DOWN-TARGET', 'The product HQ reprices', $2)`, [productId, PRICE_BASE - 1]);
    await hq.sql(
      `INSERT INTO products (id, sku, name, price) SELECT md5('down-seed' || i)::uuid::text, 'DOWN-' || i, 'Product ' || i, 1 + i FROM generate_series(1, 50) i`,
    );
    const workers = n >= 20 ? Number(process.env.TILLSYNC_BENCH_DOWN_WORKERS ?? 2) : 1;
    const fleet = await startFleet(ctx, hq, n, workers, 'first');
    try {
      await sleep(1000);
      const mark = cpuMark(hq, fleet);
      const out: SeriesResult[] = [];
      out.push(await series(hq, fleet, productId, 'spaced', counts.spaced, [1200, 1800]));
      ctx.progress(`down: N=${n}, changes 1.2-1.8 s apart`, summary(out[0] as SeriesResult));
      await sleep(2000);
      out.push(await series(hq, fleet, productId, 'steady', counts.steady, [200, 500]));
      ctx.progress(`down: N=${n}, changes every 200-500 ms`, summary(out[1] as SeriesResult));
      const cpu = mark();
      const c = await Promise.all(fleet.procs.map((p) => p.ask({ type: 'counts' }, 'counts', 10_000)));
      return {
        n,
        kind: hq.kind,
        workers: fleet.procs.length,
        startMs: fleet.startMs,
        series: out,
        cpu,
        tillRssMb: c.reduce((s, x) => s + x.rssMb, 0),
        rssBeforeMb: fleet.rssBeforeMb,
        loopDelayP99Ms: Math.max(...c.map((x) => x.loopDelayP99Ms)),
      };
    } finally {
      await fleet.close();
    }
  } finally {
    await hq.stop();
  }
}

const summary = (s: SeriesResult) => ({
  samples: s.latencies.length,
  heldBack: s.heldBack,
  p50: round(percentile(s.latencies, 50)),
  p99: round(percentile(s.latencies, 99)),
  max: round(Math.max(...s.latencies)),
  missing: s.missing,
  breakdown: Object.fromEntries(Object.entries(s.breakdown).map(([k, v]) => [k, round(v)])),
});

// ------------------------------------------------------------------ bulk import

interface BulkResult {
  readonly kind: DbKind;
  readonly rows: number;
  readonly tills: number;
  readonly batch: number;
  readonly importMs: number;
  /** Last commit -> every till holds every row (ms); per till as well. */
  readonly allMs: number;
  readonly perTillMs: number[];
  readonly incomplete: number;
  readonly counts: TillCounts[];
  readonly centralHints: number;
  /** Rows pulled per till by the import's last commit (how far the tills kept up). */
  readonly pulledAtLastCommit: number[];
  /** Central's pull route over the whole: requests, mean handling ms, changes served. */
  readonly centralPulls: number;
  readonly centralPullMs: number;
  readonly served: number;
  readonly cpu: ReturnType<ReturnType<typeof cpuMark>>;
}

const md5Uuid = (s: string) => createHash('md5').update(s).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

async function bulkImport(ctx: BenchContext, tills: number, rows: number, batch: number): Promise<BulkResult> {
  const hq = await startHq(ctx);
  try {
    await hq.sql(`INSERT INTO products (id, sku, name, price) SELECT md5('down-seed' || i)::uuid::text, 'DOWN-' || i, 'Product ' || i, 1 + i FROM generate_series(1, 50) i`);
    const fleet = await startFleet(ctx, hq, tills, Math.min(2, tills), 'all');
    try {
      await sleep(1000);
      const tag = randomBytes(4).toString('hex');
      const skuPrefix = `IMP-${tag}-`;
      await Promise.all(
        fleet.procs.map((p) =>
          p.ask({ type: 'bulk-arm', skuPrefix, lastServerId: md5Uuid(`${tag}${rows}`), expected: rows, timeoutMs: 15 * 60_000 }, 'armed', 10_000),
        ),
      );
      const done = Promise.all(fleet.procs.map((p) => p.next('bulk-done', 16 * 60_000)));
      done.catch(() => undefined);
      const served = () => hq.metric('tillsync_pulled_changes_total{entity_type="Product"}');
      const hints0 = await hq.metric('tillsync_change_hints_total');
      const [pulls0, served0] = [await pullMetrics(hq), await served()];
      const mark = cpuMark(hq, fleet);
      const began = Date.now();
      let lastCommit = began;
      for (let from = 1; from <= rows; from += batch) {
        const to = Math.min(rows, from + batch - 1);
        await hq.sql(
          `INSERT INTO products (id, sku, name, description, price, cost, unit, active, created_at, updated_at)
           SELECT md5($1 || i)::uuid::text, $2 || lpad(i::text, 7, '0'), 'Imported ' || i, 'From the HQ import', round((1 + (i % 500) * 0.1)::numeric, 2),
                  round((0.5 + (i % 500) * 0.05)::numeric, 2), 'each', true, now(), now()
           FROM generate_series($3::int, $4::int) AS i`,
          [tag, skuPrefix, from, to],
        );
        lastCommit = Date.now();
        if (to % Math.max(batch, Math.floor(rows / 5)) === 0) ctx.progress('down: importing', { rows: to, of: rows });
      }
      const importMs = lastCommit - began;
      const atLast = (await Promise.all(fleet.procs.map((p) => p.ask({ type: 'counts' }, 'counts', 10_000)))).flatMap((c) => c.tills);
      const held: BulkTill[] = (await done).flatMap((d) => d.tills);
      const cpu = mark();
      const [pulls1, served1] = [await pullMetrics(hq), await served()];
      // A hint still due from the last window (it goes at most the longest window after the last announcement) is counted too.
      await sleep(Math.max(0, lastCommit + DEFAULT_HINT_TIMING.maxWindowMs + 500 - Date.now()));
      const counts = (await Promise.all(fleet.procs.map((p) => p.ask({ type: 'counts' }, 'counts', 10_000)))).flatMap((c) => c.tills);
      const hints1 = await hq.metric('tillsync_change_hints_total');
      const perTill = held.filter((h) => Number.isFinite(h.completeAt)).map((h) => h.completeAt - lastCommit);
      return {
        kind: hq.kind,
        rows,
        tills,
        batch,
        importMs,
        allMs: perTill.length === held.length ? Math.max(...perTill) : NaN,
        perTillMs: perTill,
        incomplete: held.length - perTill.length,
        counts,
        centralHints: hints1 - hints0,
        pulledAtLastCommit: atLast.map((c) => c.productRowsPulled),
        centralPulls: pulls1.count - pulls0.count,
        centralPullMs: ((pulls1.sum - pulls0.sum) / (pulls1.count - pulls0.count)) * 1000,
        served: served1 - served0,
        cpu,
      };
    } finally {
      await fleet.close();
    }
  } finally {
    await hq.stop();
  }
}

// ------------------------------------------------------------------ rows

const pctOf = (xs: readonly number[], p: number) => percentile(xs, p);

/** The slowest sample's parts that are known (a till without a probe has no hint times). */
function worstParts(w: SeriesResult['worst']): string {
  const parts: [string, number][] = [
    ['announcement heard', w.toNotice],
    ['hint stamped', w.toHint],
    ['probe got it', w.toHint + w.hintToProbe],
    ['pull sent', w.toHint + w.hintToPull],
    ['pull took', w.pull],
    ['apply', w.apply],
  ];
  return parts
    .filter(([, v]) => Number.isFinite(v))
    .map(([k, v]) => `${k} ${k === 'pull took' || k === 'apply' ? '' : '+'}${round(v)}`)
    .join(', ');
}

function levelRows(r: LevelResult): Row[] {
  const id = `14 down ${r.kind} N=${r.n}`;
  const rows: Row[] = [];
  for (const s of r.series) {
    const how = s.name === 'spaced' ? 'changes 1.2-1.8 s apart' : 'changes every 200-500 ms';
    const what = `HQ price by SQL, commit -> applied on ${r.n === 1 ? 'the till' : `each of ${r.n} tills`} (${s.changes} ${how})`;
    const p50 = pctOf(s.latencies, 50);
    const p99 = pctOf(s.latencies, 99);
    const b = s.breakdown;
    const note =
      `${s.latencies.length} samples, ${s.missing} missing, ${s.byFallback} seen by the fallback check; ` +
      `${s.heldBack} held back (${s.heldBackChanges} of ${s.changes} changes: the till pulled after the commit and did not get it, see bench/README.md); medians: commit -> announcement heard by a listener here ${round(b.toNotice)} ms, -> hint stamped by central ${round(b.toHint)} ms; ` +
      `stamped -> at the probe socket ${round(b.hintToProbe)} ms, -> engine's pull sent ${round(b.hintToPull)} ms; pull request ${round(b.pull)} ms; answer -> row committed ${round(b.apply)} ms` +
      `; central's own handling of a pull ${round(s.centralPullMs, 1)} ms on average (${s.centralPulls} pulls)` +
      `; the slowest ${round(s.worst.latency)} ms (ms after the commit: ${worstParts(s.worst)})` +
      (Number.isFinite(s.pollMinusEventMs) ? `; a 2 ms poll of the file saw it ${round(s.pollMinusEventMs)} ms after the engine's event (p50)` : '');
    rows.push(
      { id, what: `${what}, p50`, value: p50, unit: 'ms', budget: '<= 1 s (goal 100 ms)', ok: p50 <= P50_BUDGET_MS && s.missing === 0, note },
      { id, what: `${what}, p99`, value: p99, unit: 'ms', budget: '<= 3 s', ok: p99 <= P99_BUDGET_MS && s.missing === 0 },
      { id, what: `${what}, max`, value: Math.max(...s.latencies), unit: 'ms' },
    );
    if (r.n > 1) rows.push({ id, what: `the same, until every one of the ${r.n} tills holds it (slowest till per change), p50`, value: median(s.slowest), unit: 'ms' });
  }
  rows.push({
    id: `${id} cost`,
    what: `till processes' RSS with ${r.n} engine(s) (${r.workers} process(es))`,
    value: r.tillRssMb,
    unit: 'MB',
    note:
      `CPU while measuring, in % of one core: tills ${round((r.cpu.tills / r.cpu.seconds) * 100)}%, central ${round((r.cpu.central / r.cpu.seconds) * 100)}%, ` +
      `PostgreSQL (this database's backends) ${round((r.cpu.postgres / r.cpu.seconds) * 100)}%, other processes ${round((r.cpu.others / r.cpu.seconds) * 100)}% ` +
      `(the machine ${round(r.cpu.machineBusy * 100)}% busy of ${cpus().length} cores); till processes' event-loop delay p99 ${round(r.loopDelayP99Ms)} ms; ` +
      `${round(r.rssBeforeMb)} MB before the engines started` +
      (r.n >= 10 ? ` (${round((r.tillRssMb - r.rssBeforeMb) / r.n, 1)} MB an engine)` : '') +
      `; start and registration ${round(r.startMs / 1000)} s`,
  });
  return rows;
}

function bulkRows(r: BulkResult): Row[] {
  const id = `14 bulk ${r.kind} T=${r.tills}`;
  const hints = r.counts.map((c) => c.hints).filter(Number.isFinite);
  const pulls = r.counts.map((c) => c.productPulls);
  const pulled = r.counts.map((c) => c.productRowsPulled);
  const rowsK = r.rows.toLocaleString('en-US');
  return [
    {
      id,
      what: `HQ import of ${rowsK} products by SQL, ${r.batch.toLocaleString('en-US')} rows a transaction, ${r.tills} till(s) online: import time`,
      value: r.importMs / 1000,
      unit: 's',
      note: `${Math.round(r.rows / (r.importMs / 1000))} rows/s`,
    },
    {
      id,
      what: `hints (sync:changes) received per till during the import, median`,
      value: median(hints),
      unit: 'hints',
      note: `min ${Math.min(...hints)}, max ${Math.max(...hints)}; central's counter ${r.centralHints} / ${r.tills} tills = ${round(r.centralHints / r.tills)}; product pull requests per till median ${median(pulls)}, rows pulled per till median ${median(pulled)}`,
    },
    {
      id,
      what: r.tills === 1 ? `import's last commit -> the till holds every row` : `import's last commit -> every till holds every row`,
      value: r.allMs / 1000,
      unit: 's',
      note:
        `per till median ${round(median(r.perTillMs) / 1000, 2)} s; ${r.incomplete} incomplete; at the last commit the tills had pulled ${Math.min(...r.pulledAtLastCommit)}-${Math.max(...r.pulledAtLastCommit)} rows; ` +
        `central served ${r.served} rows in ${r.centralPulls} pulls (${round(r.centralPullMs, 1)} ms each on average, its own handling); ` +
        `CPU from the first commit to the last till: tills ${round(r.cpu.tills, 1)} s (${round((r.cpu.tills / (r.rows * r.tills)) * 1e6, 1)} us a row a till), ` +
        `central ${round(r.cpu.central, 1)} s (${round((r.cpu.central / r.served) * 1e6, 1)} us a row served), PostgreSQL (this database's backends) ${round(r.cpu.postgres, 1)} s (the import's writes included) ` +
        `over ${round(r.cpu.seconds, 1)} s wall, the machine ${round(r.cpu.machineBusy * 100)}% busy of ${cpus().length} cores (${round(r.cpu.others, 0)} CPU seconds by other processes)`,
    },
  ];
}

export const downLatencyBench: Benchmark = {
  id: 'down',
  title: 'delivery down: HQ commit -> applied on the till (1 and 100 tills), beside the up direction; a bulk HQ import',
  async run(ctx: BenchContext): Promise<Row[]> {
    const levels = (process.env.TILLSYNC_BENCH_DOWN_N ?? (ctx.quick ? '1,10' : '1,100')).split(',').filter(Boolean).map(Number);
    const counts = ctx.quick ? { spaced: 8, steady: 15 } : { spaced: 25, steady: 60 };
    const bulkN = Number(process.env.TILLSYNC_BENCH_DOWN_BULK ?? (ctx.quick ? 10_000 : 100_000));
    const bulkTills = (process.env.TILLSYNC_BENCH_DOWN_BULK_TILLS ?? (ctx.quick ? '3' : '1,10')).split(',').filter(Boolean).map(Number);
    const rows: Row[] = [];
    // Down with one till, the up direction, then the larger fleets: one run, side by side.
    for (const [i, n] of levels.entries()) {
      rows.push(...levelRows(await downLevel(ctx, n, counts)));
      if (i === 0) {
        const kind: DbKind = ctx.pgUrl ? 'postgres' : 'pglite';
        const up = await measureUp(kind, ctx, 5, ctx.quick ? 30 : 150);
        ctx.progress('down: the up direction', { kind, sales: up.length, p50: round(percentile(up, 50)), p99: round(percentile(up, 99)) });
        const what = `up, for comparison: completed sale, POS commit -> central commit (${up.length} sales at 5/s, bench/latency.ts's method)`;
        rows.push(
          { id: `14 up ${kind}`, what: `${what}, p50`, value: percentile(up, 50), unit: 'ms', budget: '<= 50 ms', ok: percentile(up, 50) <= 50 },
          { id: `14 up ${kind}`, what: `${what}, p99`, value: percentile(up, 99), unit: 'ms', budget: '<= 150 ms', ok: percentile(up, 99) <= 150 },
        );
      }
    }
    for (const tills of bulkTills) {
      const bulk = await bulkImport(ctx, tills, bulkN, 1000);
      ctx.progress('down: bulk import', { tills, importSeconds: round(bulk.importMs / 1000), allSeconds: round(bulk.allMs / 1000), hints: bulk.counts.map((c) => c.hints), centralHints: bulk.centralHints });
      rows.push(...bulkRows(bulk));
    }
    return rows;
  },
};
