/**
 * 16. Central stays bounded (issue 16; `--only purge`).
 *
 * - Churn: two centrals on the same kind of database, seeded alike with 10,000
 *   products, get the same steady churn in rounds (every live row updated several
 *   times, 1% of them deleted and as many new ones inserted, plain SQL through
 *   central's triggers as HQ's writes are). After each round a terminal pulls the
 *   table to its end over HTTP from the central that purges (pages of 500, as the
 *   engine does; it keeps the ids it holds, so the end is checked against central's
 *   live rows); that central then runs its purge (retention 1 s, so a round's
 *   deletions are due by the next), which vacuums what it removed rows from itself; the
 *   other never purges. Both then get `VACUUM products`, standing in for autovacuum:
 *   the side without the purge needs it for the updates' old row versions in
 *   `products` (its `sync_changes` only grows, nothing there to vacuum), and the purge
 *   vacuums `products` only in a run that removed tombstones. `sync_changes`, the table
 *   and their sizes at the start, the middle and the end, side by side.
 * - Purge time: 200,000 superseded entries (20,000 rows each updated 10 times; quick
 *   60,000) and then 10,000 tombstones (quick 2,000: rows deleted longer ago than the
 *   retention, which the one terminal pulled up to), each a purge run of its
 *   own; `PurgeReport.ms`.
 * - Pull speed: a table of N changed rows (one change-log entry each) pulled from the
 *   start to its end in pages of 500, in-process through `PullService`, with a
 *   `PullPositions` (the purge's bookkeeping: recorded per page, written once a
 *   second) and without one, alternating. The purge horizon is read either way, in the
 *   page's own statement (a `UNION ALL` of the page and the table's horizon row,
 *   `pullPageWithHorizonSql`; a page row the purge removed before it was read answers
 *   CURSOR_EXPIRED, which a pull here never meets: nothing purges during it). The whole
 *   pull path is compared against the commit before the horizon and the positions by
 *   running `npx tsx bench/purge.ts --pull-http` in a worktree of each commit (README).
 *
 * In the churn the terminal pulls before each purge, never during one, so it is told
 * CURSOR_EXPIRED only if the purge removed what it had not read (it must not be).
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { PullQuery, PullResponse } from '../src/shared/protocol.js';
import type { PullPositions } from '../src/server/services/positions.js';
import { PullService } from '../src/server/services/pull.js';
import { median, round, startBenchCentral, tempDirs, type BenchCentral, type BenchContext, type Benchmark, type DbKind, type Row } from './lib.js';

const ENTITY = 'Product';
const STORE = 'bench-store';
const LIVE = 10_000;
const PAGE = 500;

const pid = (i: number): string => `p-${String(i).padStart(8, '0')}`;

/** Inserts products `first`..`last` (inclusive) through central's triggers. */
async function insertProducts(c: BenchCentral, first: number, last: number): Promise<void> {
  const chunk = 100_000;
  for (let start = first; start <= last; start += chunk) {
    await c.db.query(
      `INSERT INTO products (id, sku, barcode, name, description, price, cost, unit, active, created_at, updated_at)
       SELECT 'p-' || lpad(i::text, 8, '0'), 'SKU-' || i, '40' || lpad(i::text, 11, '0'), 'Product ' || i, 'A product of the bench catalogue',
              round((1 + (i % 500) * 0.1)::numeric, 2), round((0.5 + (i % 500) * 0.05)::numeric, 2), 'each', true, now(), now()
       FROM generate_series($1::int, $2::int) AS i`,
      [start, Math.min(last, start + chunk - 1)],
    );
  }
}

/** Every live product updated once (one statement, as a price change of the whole catalogue). */
const UPDATE_ALL = `UPDATE products SET price = price + 0.01, updated_at = now() WHERE sync_deleted_at IS NULL`;

/** The `n` oldest live products deleted (soft at central: tombstones). */
const DELETE_OLDEST = `DELETE FROM products WHERE id IN (SELECT id FROM products WHERE sync_deleted_at IS NULL ORDER BY id LIMIT $1)`;

interface Sizes {
  entries: number;
  rows: number;
  tombstones: number;
  logMb: number;
  tableMb: number;
}

async function sizes(c: BenchCentral): Promise<Sizes> {
  const r = await c.db.query<{ entries: string; rows: string; tombstones: string; log: string; tab: string }>(
    `SELECT (SELECT count(*) FROM sync_changes)::text AS entries,
            (SELECT count(*) FROM products)::text AS rows,
            (SELECT count(*) FROM products WHERE sync_deleted_at IS NOT NULL)::text AS tombstones,
            pg_total_relation_size('sync_changes')::text AS log, pg_total_relation_size('products')::text AS tab`,
  );
  const s = r.rows[0] as { entries: string; rows: string; tombstones: string; log: string; tab: string };
  return { entries: Number(s.entries), rows: Number(s.rows), tombstones: Number(s.tombstones), logMb: Number(s.log) / 2 ** 20, tableMb: Number(s.tab) / 2 ** 20 };
}

/**
 * A terminal that pulls one table over HTTP as the engine does (a snapshot first, then
 * the change log, pages of 500) and keeps only which ids it holds live. On
 * CURSOR_EXPIRED it reads the table again from a snapshot and drops what that read did
 * not bring, as the engine does.
 */
class PullingTerminal {
  private cursor: string | undefined;
  private resnapshot: Set<string> | undefined;
  readonly live = new Set<string>();
  expired = 0;

  constructor(
    private readonly url: string,
    private readonly terminalId: string,
    private readonly apiKey: string,
  ) {}

  private async page(): Promise<PullResponse | 'expired'> {
    const q = new URLSearchParams({ terminalId: this.terminalId, entityType: ENTITY, limit: String(PAGE) });
    if (this.cursor) q.set('cursor', this.cursor);
    else q.set('start', 'snapshot');
    const get = () => fetch(`${this.url}/api/sync/pull?${q.toString()}`, { headers: { authorization: `Bearer ${this.apiKey}` } });
    // Once, as the engine would: a kept-alive socket may have been closed by central meanwhile.
    const r = await get().catch(get);
    const body = (await r.json()) as PullResponse & { code?: string; message?: string };
    if (r.status === 409 && body.code === 'CURSOR_EXPIRED') return 'expired';
    if (r.status !== 200) throw new Error(`pull failed (${r.status}): ${body.code ?? ''} ${body.message ?? ''}`);
    return body;
  }

  /** Pulls to the end of the log; returns the pages read and the changes received. */
  async pullToEnd(): Promise<{ pages: number; changes: number }> {
    let pages = 0;
    let changes = 0;
    for (;;) {
      const p = await this.page();
      pages++;
      if (p === 'expired') {
        this.expired++;
        this.cursor = undefined;
        this.resnapshot = new Set();
        continue;
      }
      for (const ch of p.changes) {
        changes++;
        if (ch.deleted) this.live.delete(ch.entityId);
        else {
          this.live.add(ch.entityId);
          this.resnapshot?.add(ch.entityId);
        }
      }
      if (p.snapshotEnd && this.resnapshot) {
        for (const id of this.live) if (!this.resnapshot.has(id)) this.live.delete(id);
        this.resnapshot = undefined;
      }
      this.cursor = p.cursor;
      if (!p.hasMore) return { pages, changes };
    }
  }
}

async function liveIds(c: BenchCentral): Promise<Set<string>> {
  const r = await c.db.query<{ id: string }>('SELECT id FROM products WHERE sync_deleted_at IS NULL');
  return new Set(r.rows.map((x) => x.id));
}

const sameSet = (a: Set<string>, b: Set<string>): boolean => a.size === b.size && [...a].every((x) => b.has(x));

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Figure 16.1: the churn, with the purge and without, side by side. */
async function churn(kind: DbKind, ctx: BenchContext): Promise<Row[]> {
  const rounds = ctx.quick ? 6 : 20;
  const updatesPerRow = ctx.quick ? 2 : 3; // per round: 20 x 3 x 10,000 = 600k updates full, 120k quick
  const deletes = LIVE / 100; // per round, and as many inserted
  const totalUpdates = rounds * updatesPerRow * LIVE;
  const config = { retentionSeconds: 1, purgeIntervalSeconds: 0 };
  const sides = [
    { label: 'with purge', purge: true, c: await startBenchCentral(kind, ctx, config) },
    { label: 'without purge', purge: false, c: await startBenchCentral(kind, ctx, config) },
  ];
  try {
    const terms: PullingTerminal[] = [];
    for (const s of sides) {
      await insertProducts(s.c, 1, LIVE);
      const t = await s.c.provision(STORE, `bench-purge-${s.purge ? 'a' : 'b'}`);
      const term = new PullingTerminal(s.c.url, t.terminalId, t.apiKey);
      await term.pullToEnd();
      terms.push(term);
    }
    let next = LIVE + 1;
    const samples: Record<string, Sizes[]> = { 'with purge': [], 'without purge': [] };
    const sample = async () => {
      for (const s of sides) samples[s.label]?.push(await sizes(s.c));
    };
    await sample();
    const purgeMs: number[] = [];
    const compacted: number[] = [];
    const tombstones: number[] = [];
    const writeMs: Record<string, number[]> = { 'with purge': [], 'without purge': [] };
    const pullMs: Record<string, number[]> = { 'with purge': [], 'without purge': [] };
    const vacuumMs: Record<string, number[]> = { 'with purge': [], 'without purge': [] };
    for (let r = 1; r <= rounds; r++) {
      for (const [i, s] of sides.entries()) {
        const t0 = performance.now();
        for (let u = 0; u < updatesPerRow; u++) await s.c.db.query(UPDATE_ALL);
        await s.c.db.query(DELETE_OLDEST, [deletes]);
        await insertProducts(s.c, next, next + deletes - 1);
        writeMs[s.label]?.push(performance.now() - t0);
        // The terminal of the central without purge would change nothing there: it does not pull.
        if (s.purge) {
          const t1 = performance.now();
          await terms[i]?.pullToEnd();
          pullMs[s.label]?.push(performance.now() - t1);
        }
      }
      next += deletes;
      const report = await sides[0]?.c.central.purge.run();
      if (!report) throw new Error('the purge did not run (lock held?)');
      // The purge vacuumed what it removed rows from. Both sides' products vacuumed alike,
      // as PostgreSQL's autovacuum would (PGlite has none): the side without the purge
      // needs it for the updates' old row versions, whose space is reused only after it.
      for (const s of sides) {
        const t2 = performance.now();
        await s.c.db.query('VACUUM products');
        vacuumMs[s.label]?.push(performance.now() - t2);
      }
      purgeMs.push(report.ms);
      compacted.push(report.removed.compacted);
      tombstones.push(report.removed.tombstones);
      if (r === Math.ceil(rounds / 2)) await sample();
      ctx.progress('purge churn', { db: kind, round: r, of: rounds, purgeMs: report.ms, compacted: report.removed.compacted, tombstones: report.removed.tombstones });
    }
    await sample();
    const checks: string[] = [];
    for (const [i, s] of sides.entries()) {
      if (!s.purge) continue;
      const term = terms[i] as PullingTerminal;
      const ok = sameSet(term.live, await liveIds(s.c));
      checks.push(`the terminal holds central's ${fmtInt(term.live.size)} live rows ${ok ? 'exactly' : 'NOT exactly'}, ${term.expired} CURSOR_EXPIRED`);
      if (!ok) throw new Error(`${kind} ${s.label}: the terminal does not end with central's live rows`);
    }
    const id = `16 churn ${kind}`;
    const points = ['start', `middle (round ${Math.ceil(rounds / 2)})`, `end (round ${rounds})`];
    const rows: Row[] = [];
    const series = [
      { what: 'sync_changes entries', unit: 'entries', pick: (s: Sizes) => s.entries },
      { what: 'products rows (live + tombstones)', unit: 'rows', pick: (s: Sizes) => s.rows },
      { what: 'sync_changes size (pg_total_relation_size)', unit: 'MB', pick: (s: Sizes) => s.logMb },
      { what: 'products size (pg_total_relation_size)', unit: 'MB', pick: (s: Sizes) => s.tableMb },
    ];
    for (const x of series) {
      for (const side of ['with purge', 'without purge']) {
        const ss = samples[side] as Sizes[];
        ss.forEach((s, p) => {
          rows.push({
            id,
            what: `${x.what}, ${side}, at the ${points[p]}`,
            value: round(x.pick(s), 2),
            unit: x.unit,
            ...(p === 0 && x.what.startsWith('sync_changes entries')
              ? { note: `${rounds} rounds of ${fmtInt(updatesPerRow * LIVE)} updates, ${deletes} deletes and ${deletes} inserts over ${fmtInt(LIVE)} live rows (${fmtInt(totalUpdates)} updates)` }
              : {}),
          });
        });
      }
    }
    rows.push(
      {
        id,
        what: `purge run between rounds (${fmtInt(median(compacted))} entries compacted, ${fmtInt(median(tombstones))} tombstones), median`,
        value: median(purgeMs),
        unit: 'ms',
        runs: purgeMs,
        note: checks.join('; '),
      },
      {
        id,
        what: "terminal's pull to the end after a round (with purge), median",
        value: median(pullMs['with purge'] as number[]),
        unit: 'ms',
        runs: (pullMs['with purge'] as number[]).map((x) => Math.round(x)),
        note: `${fmtInt(updatesPerRow * LIVE + 2 * deletes)} entries a round, pages of ${PAGE}`,
      },
      ...(['churn writes of a round', 'VACUUM products after a round'] as const).map((what, k): Row => {
        const [w, wo] = (['with purge', 'without purge'] as const).map((side) => (k === 0 ? writeMs : vacuumMs)[side] as number[]);
        const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
        const ends = (xs: number[]) => `${Math.round(xs[0] ?? NaN)} ms in the first round, ${Math.round(xs.at(-1) ?? NaN)} ms in the last`;
        return {
          id,
          what: `${what}, with purge / without (time, summed over the rounds)`,
          value: round(sum(w as number[]) / sum(wo as number[]), 2),
          unit: 'x',
          note: `with: ${round(sum(w as number[]) / 1000)} s, ${ends(w as number[])}; without: ${round(sum(wo as number[]) / 1000)} s, ${ends(wo as number[])}`,
        };
      }),
    );
    return rows;
  } finally {
    for (const s of sides) await s.c.close();
  }
}

/** Figure 16.2: a purge run compacting `superseded` entries, then one removing 10,000 tombstones. */
async function purgeTime(kind: DbKind, ctx: BenchContext): Promise<Row[]> {
  const superseded = ctx.quick ? 50_000 : 200_000;
  const dead = ctx.quick ? 2_000 : 10_000;
  const c = await startBenchCentral(kind, ctx, { retentionSeconds: 1, purgeIntervalSeconds: 0 });
  try {
    await insertProducts(c, 1, LIVE + dead);
    const t = await c.provision(STORE, 'bench-purge-time');
    const term = new PullingTerminal(c.url, t.terminalId, t.apiKey);
    for (let u = 0; u < superseded / (LIVE + dead); u++) await c.db.query(UPDATE_ALL);
    await term.pullToEnd();
    const first = await c.central.purge.run();
    if (!first) throw new Error('the purge did not run');
    ctx.progress('purge time: compaction', { db: kind, compacted: first.removed.compacted, ms: first.ms });
    const beforeDeletes = new Date();
    await c.db.query(`DELETE FROM products WHERE id > $1`, [pid(LIVE)]);
    // Their creations are superseded by their deletions: compacted first, not yet due as tombstones.
    const second = await c.central.purge.run({ now: beforeDeletes });
    if (!second) throw new Error('the purge did not run');
    await new Promise((r) => setTimeout(r, 1100));
    // A position is the cursor a pull is asked with. The deletions fill whole pages, so
    // the pass ends asking with the last one's cursor (an empty page): at the terminal's
    // cursor, that deletion has been read and its tombstone is due, as are all before it.
    await term.pullToEnd();
    const third = await c.central.purge.run();
    if (!third) throw new Error('the purge did not run');
    ctx.progress('purge time: tombstones', { db: kind, tombstones: third.removed.tombstones, ms: third.ms });
    if (third.removed.tombstones !== dead) throw new Error(`expected ${dead} tombstones purged, got ${third.removed.tombstones} (the deletions must fill whole pages of ${PAGE})`);
    const s = await sizes(c);
    const id = `16 purge time ${kind}`;
    return [
      {
        id,
        what: `purge run compacting ${fmtInt(first.removed.compacted)} superseded entries (${fmtInt(LIVE + dead)} rows)`,
        value: first.ms,
        unit: 'ms',
      },
      { id, what: 'the same, per 100,000 entries compacted', value: round((first.ms / first.removed.compacted) * 100_000), unit: 'ms' },
      {
        id,
        what: `purge run removing ${fmtInt(third.removed.tombstones)} tombstones and their entries`,
        value: third.ms,
        unit: 'ms',
        note: `left: ${fmtInt(s.entries)} entries, ${fmtInt(s.rows)} rows; the deletions' compaction run before it: ${second.ms} ms for ${fmtInt(second.removed.compacted)}`,
      },
      { id, what: 'the same, per 10,000 tombstones', value: round((third.ms / third.removed.tombstones) * 10_000), unit: 'ms' },
    ];
  } finally {
    await c.close();
  }
}

/** Pulls the whole table from the start in pages of 500 through `PullService` in this process; rows/s. */
async function pullInProcess(c: BenchCentral, acting: { terminalId: string; storeId: string }, positions: PullPositions | undefined, n: number): Promise<number> {
  const service = new PullService(c.db, c.central.metrics, positions);
  let cursor: string | undefined;
  let rows = 0;
  const t0 = performance.now();
  for (;;) {
    const q: PullQuery = { terminalId: acting.terminalId, entityType: ENTITY, limit: PAGE, ...(cursor ? { cursor } : {}) };
    const p = await service.pull(acting, q);
    rows += p.changes.length;
    cursor = p.cursor;
    if (!p.hasMore) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (rows !== n) throw new Error(`pulled ${rows} rows, expected ${n}`);
  return rows / seconds;
}

/** The same over HTTP, as a terminal asks (a plain fetch per page, the rows discarded); rows/s. */
async function pullHttp(url: string, t: { terminalId: string; apiKey: string }, n: number): Promise<number> {
  let cursor: string | undefined;
  let rows = 0;
  const t0 = performance.now();
  for (;;) {
    const q = new URLSearchParams({ terminalId: t.terminalId, entityType: ENTITY, limit: String(PAGE) });
    if (cursor) q.set('cursor', cursor);
    const get = () => fetch(`${url}/api/sync/pull?${q.toString()}`, { headers: { authorization: `Bearer ${t.apiKey}` } });
    // Once, as the engine would: a kept-alive socket may have been closed by central meanwhile.
    const r = await get().catch(get);
    if (r.status !== 200) throw new Error(`pull failed (${r.status}): ${await r.text()}`);
    const p = (await r.json()) as PullResponse;
    rows += p.changes.length;
    cursor = p.cursor;
    if (!p.hasMore) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (rows !== n) throw new Error(`pulled ${rows} rows, expected ${n}`);
  return rows / seconds;
}

/** Figure 16.3: pull speed with the purge's bookkeeping (positions recorded) and without. */
async function pullSpeed(kind: DbKind, ctx: BenchContext): Promise<Row[]> {
  const n = ctx.quick ? 20_000 : 100_000;
  const { PullPositions } = await import('../src/server/services/positions.js');
  const c = await startBenchCentral(kind, ctx, { purgeIntervalSeconds: 0 });
  try {
    await insertProducts(c, 1, n);
    await c.db.query('ANALYZE');
    const t = await c.provision(STORE, 'bench-pull-speed');
    const acting = { terminalId: t.terminalId, storeId: STORE };
    // A horizon row for the table, as after a purge (at the log's start: no cursor is behind it).
    await c.db.query(`INSERT INTO sync_purge_horizons (entity_type, txid, seq, changed_at) VALUES ($1, '0'::xid8, 0, now())`, [ENTITY]);
    await pullInProcess(c, acting, undefined, n); // warm-up
    const withP: number[] = [];
    const without: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      for (const recorded of r % 2 === 0 ? [true, false] : [false, true]) {
        if (recorded) {
          const positions = new PullPositions(c.db, (err) => ctx.progress('positions not written', { err: String(err) }));
          withP.push(await pullInProcess(c, acting, positions, n));
          await positions.close();
        } else {
          without.push(await pullInProcess(c, acting, undefined, n));
        }
      }
      ctx.progress('pull speed', { db: kind, run: r + 1, of: ctx.runs, withPositions: Math.round(withP.at(-1) ?? 0), without: Math.round(without.at(-1) ?? 0) });
    }
    const http: number[] = [];
    for (let r = 0; r < ctx.runs; r++) http.push(await pullHttp(c.url, t, n));
    const id = `16 pull ${kind}`;
    const w = median(withP);
    const wo = median(without);
    return [
      {
        id,
        what: `PullService, ${fmtInt(n)} changed rows from the start, pages of ${PAGE}, positions recorded`,
        value: w,
        unit: 'rows/s',
        runs: withP.map((x) => Math.round(x)),
        note: `${round((w / PAGE) * 1, 1)} pages/s`,
      },
      { id, what: 'the same, no positions recorded (PullService without PullPositions)', value: wo, unit: 'rows/s', runs: without.map((x) => Math.round(x)), note: `${round(wo / PAGE, 1)} pages/s` },
      { id, what: 'with / without', value: round(w / wo, 3), unit: 'x' },
      { id, what: 'the same pull over HTTP (central in this process), as a terminal asks', value: median(http), unit: 'rows/s', runs: http.map((x) => Math.round(x)) },
    ];
  } finally {
    await c.close();
  }
}

export const purgeBench: Benchmark = {
  id: 'purge',
  title: 'central stays bounded: change log and table under churn with and without the purge, purge time, pull speed (issue 16)',
  async run(ctx: BenchContext): Promise<Row[]> {
    const kinds: DbKind[] = ctx.pgUrl ? ['pglite', 'postgres'] : ['pglite'];
    const rows: Row[] = [];
    for (const kind of kinds) {
      ctx.progress('purge: churn', { db: kind });
      rows.push(...(await churn(kind, ctx)));
      ctx.progress('purge: purge time', { db: kind });
      rows.push(...(await purgeTime(kind, ctx)));
      ctx.progress('purge: pull speed', { db: kind });
      rows.push(...(await pullSpeed(kind, ctx)));
    }
    return rows;
  },
};

/**
 * `npx tsx bench/purge.ts --pull-http [--postgres] [--rows N] [--runs R]`: only the HTTP
 * pull of N changed rows, as JSON; uses nothing the commit before the purge lacks, so
 * the same file run in a worktree of each commit compares the pull path before and
 * after the purge's horizon lookup and position recording.
 */
async function pullHttpCli(): Promise<void> {
  const { values } = parseArgs({ options: { 'pull-http': { type: 'boolean' }, postgres: { type: 'boolean' }, rows: { type: 'string' }, runs: { type: 'string' } }, strict: true });
  if (!values['pull-http']) throw new Error('usage: npx tsx bench/purge.ts --pull-http [--postgres] [--rows N] [--runs R] (the rest runs under npm run bench -- --only purge)');
  const n = Number(values.rows ?? 100_000);
  const runs = Number(values.runs ?? 5);
  const dirs = tempDirs();
  const pgUrl = process.env.TILLSYNC_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const ctx: BenchContext = { quick: false, runs, pgUrl: values.postgres ? pgUrl : undefined, tmp: dirs.tmp, progress: (m, d) => process.stderr.write(`${m} ${d ? JSON.stringify(d) : ''}\n`) };
  const kind: DbKind = values.postgres ? 'postgres' : 'pglite';
  const c = await startBenchCentral(kind, ctx);
  try {
    await insertProducts(c, 1, n);
    await c.db.query('ANALYZE');
    const t = await c.provision(STORE, 'bench-pull-http');
    await pullHttp(c.url, t, n); // warm-up
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) rates.push(await pullHttp(c.url, t, n));
    process.stdout.write(`${JSON.stringify({ kind, rows: n, runs: rates.map((x) => Math.round(x)), median: Math.round(median(rates)), cpus: cpus().length })}\n`);
  } finally {
    await c.close();
    dirs.cleanup();
  }
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('purge.ts') || entry.endsWith('purge.js')) {
  pullHttpCli().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
