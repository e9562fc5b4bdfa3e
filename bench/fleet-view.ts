/**
 * 17. HQ's fleet view at 10,000 tills (issue 18): how long the console waits for a page
 * of GET /api/fleet (sorted by attention, filtered), the roll-up per store and one
 * till's detail, beside GET /api/terminals (the plain list of the same tills, the
 * floor: one read of sync_terminals) in the same run.
 *
 * Central on a scratch database (PostgreSQL when reachable, else PGlite). The fleet is
 * written straight into sync_terminals (10,000 tills in 100 stores; quick: 2,000):
 * each till's last report as a heartbeat leaves it, with pull cursors for 15 tables;
 * 5% of them silent (OFFLINE), a third of those holding sales; 1% of them behind
 * central's change log on one table (the pull-lag look-ups), the rest in step.
 */
import { performance } from 'node:perf_hooks';
import { encodeCursor } from '../src/server/services/pull.js';
import { CATALOG } from '../src/shared/catalog/index.js';
import { ADMIN_TOKEN, median, round, startBenchCentral, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';

const PULLED = CATALOG.filter((e) => e.direction !== 'up')
  .map((e) => e.entityType)
  .slice(0, 15);

async function get(url: string, path: string): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const body = await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${Buffer.from(body).toString().slice(0, 200)}`);
  return performance.now() - t0;
}

async function measure(kind: DbKind, ctx: BenchContext): Promise<Row[]> {
  const tills = ctx.quick ? 2_000 : 10_000;
  const stores = 100;
  const c = await startBenchCentral(kind, ctx);
  try {
    ctx.progress('fleet-view: writing the fleet', { kind, tills });
    await c.db.query(
      `INSERT INTO stores (id, name, currency, created_at, updated_at)
       SELECT 'store-' || i, 'Store ' || i, 'EUR', now(), now() FROM generate_series(1, $1) i`,
      [stores],
    );
    // A change per pulled table, so the cursors below have a head to be at or behind.
    await c.db.query(`UPDATE stores SET name = name || ' ' WHERE id = 'store-1'`);
    const heads = await c.db.query<{ entity_type: string; txid: string; seq: string }>(
      `SELECT entity_type, max(txid)::text AS txid, max(seq)::text AS seq FROM sync_changes GROUP BY entity_type`,
    );
    const head = heads.rows[0];
    const atHead = head ? encodeCursor({ txid: head.txid, seq: Number(head.seq) }) : encodeCursor({ txid: '0', seq: 0 });
    const behind = encodeCursor({ txid: '0', seq: 0 });
    const cursors = (lagging: boolean) => JSON.stringify(Object.fromEntries(PULLED.map((t, i) => [t, lagging && i === 0 ? behind : atHead])));
    const ids: string[] = [];
    const batch = 1000;
    for (let from = 0; from < tills; from += batch) {
      const rows = Array.from({ length: Math.min(batch, tills - from) }, (_, k) => from + k);
      for (const i of rows) ids.push(`till-${i}`);
      await c.db.query(
        `INSERT INTO sync_terminals (id, store_id, name, key_hash, last_heartbeat_at, reported_status, app_version, schema_version,
           pending_total, failed_total, oldest_pending_at, unsynced_sales_count, unsynced_sales_total, clock_skew_ms, pull_cursors, recent_runs, outbox)
         SELECT 'till-' || i, 'store-' || (1 + i % $2), 'Till ' || i, 'hash-' || i,
                CASE WHEN i % 20 = 0 THEN now() - interval '1 hour' ELSE now() END, 'ONLINE', '1.4.2', '3/abcdef01',
                CASE WHEN i % 60 = 0 THEN 12 ELSE 0 END, CASE WHEN i % 97 = 0 THEN 1 ELSE 0 END,
                CASE WHEN i % 60 = 0 THEN now() - interval '2 hours' END,
                CASE WHEN i % 60 = 0 THEN 4 ELSE 0 END, CASE WHEN i % 60 = 0 THEN 123.45 ELSE 0 END, (i % 7) * 10,
                CASE WHEN i % 100 = 1 THEN $3::jsonb ELSE $4::jsonb END, '[]'::jsonb, '{}'::jsonb
           FROM unnest($1::int[]) i`,
        [rows, stores, cursors(true), cursors(false)],
      );
    }
    const runs = Math.max(ctx.runs, 5) * 2;
    const series: Record<string, number[]> = { list: [], page: [], attention: [], store: [], rollup: [], detail: [] };
    const paths: Record<string, () => string> = {
      list: () => '/api/terminals',
      page: () => '/api/fleet?limit=100',
      attention: () => '/api/fleet?attention=true&limit=100',
      store: () => '/api/fleet?storeId=store-7&limit=100',
      rollup: () => '/api/fleet/stores',
      detail: () => `/api/fleet/terminals/${ids[Math.floor(Math.random() * ids.length)] ?? 'till-0'}`,
    };
    for (const p of Object.values(paths)) await get(c.url, p()); // warm: plans, connections
    for (let r = 0; r < runs; r++) {
      // Alternated, so a slower minute of the machine falls on every series alike.
      for (const [k, p] of Object.entries(paths)) series[k]?.push(await get(c.url, p()));
    }
    const row = (key: string, what: string): Row => {
      const xs = series[key] ?? [];
      return { id: `17 fleet view ${kind}`, what: `${what} (${tills.toLocaleString('en')} tills)`, value: round(median(xs), 1), unit: 'ms', runs: xs.map((x) => round(x, 1)) };
    };
    return [
      row('list', 'GET /api/terminals, the plain list (the floor)'),
      row('page', 'GET /api/fleet, first page of 100 in attention order'),
      row('attention', 'GET /api/fleet?attention=true, first page'),
      row('store', "GET /api/fleet?storeId=, one store's tills"),
      row('rollup', 'GET /api/fleet/stores, the roll-up of every store'),
      row('detail', "GET /api/fleet/terminals/:terminalId, one till's detail"),
    ];
  } finally {
    await c.close();
  }
}

export const fleetViewBench: Benchmark = {
  id: 'fleet-view',
  title: "HQ's fleet view at 10,000 tills",
  async run(ctx) {
    return measure(ctx.pgUrl ? 'postgres' : 'pglite', ctx);
  },
};
