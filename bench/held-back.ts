/**
 * `npx tsx bench/held-back.ts`: reproduces a change that is hinted but never delivered
 * (bench/README.md, figure 14). Needs PostgreSQL (TILLSYNC_BENCH_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test). Not part of `npm run bench`.
 *
 * One till (a real engine, realtime on, the interval an hour away) against central in
 * its own process. First a price change alone: applied within milliseconds. Then the
 * same change while another transaction that holds a transaction id is open, in
 * another database of the same server (xids and snapshots are server-wide): central
 * hints at once, the till pulls at once, and the pull serves the change log only below
 * the oldest running transaction (src/server/services/pull.ts), so it stops before the
 * change. The other transaction ends a second later; nothing hints again, so the till
 * stays stale until the next change of that table, a reconnect or the interval pass.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { createEngine } from '../src/main/sync/engine.js';
import type { LocalStore } from '../src/main/sync/store/index.js';
import type { SyncService } from '../src/main/sync/sync-service.js';
import { DEFAULT_SYNC_CONFIG } from '../src/main/sync/sync-config.js';
import { provision, startHq } from './down-fleet.js';
import { sleep, tempDirs, type BenchContext } from './lib.js';

async function main(): Promise<void> {
  const pgUrl = process.env.TILLSYNC_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dirs = tempDirs();
  const ctx: BenchContext = { quick: true, runs: 1, pgUrl, tmp: dirs.tmp, progress: () => undefined };
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const hq = await startHq(ctx);
  const blocker = new pg.Client({ connectionString: pgUrl });
  let service: SyncService | undefined;
  let store: LocalStore | undefined;
  try {
    const product = randomUUID();
    await hq.sql(`INSERT INTO products (id, sku, name, price) VALUES ($1, 'HELD-1', 'Tea', 1)`, [product]);
    const [till] = await provision(hq.url, 1, 'held');
    if (!till) throw new Error('provisioning failed');
    const built = createEngine(
      {
        databasePath: join(ctx.tmp('held-'), 'till.db'),
        terminalId: till.terminalId,
        create: true,
        sync: { ...DEFAULT_SYNC_CONFIG, centralUrl: hq.url, apiKey: till.apiKey, realtime: true, syncInterval: 3600 },
      },
      pino({ level: 'silent' }),
    );
    const tillStore = built.store;
    store = tillStore;
    const engine = built.service;
    service = engine;
    // The engine's pull requests of products, counted (its public client; called as before).
    let pulls = 0;
    const pull = engine.client.pull.bind(engine.client);
    engine.client.pull = (q) => {
      if (q.entityType === 'Product') pulls++;
      return pull(q);
    };
    const started = new Promise<void>((resolve) => engine.once('syncFinished', () => resolve()));
    await engine.initialize(till.terminalId);
    await started;
    while ((await hq.metric('tillsync_connected_terminals')) < 1) await sleep(50);
    const price = () => Number((tillStore.base.db.prepare(`SELECT price FROM products WHERE server_id = ?`).get(product) as { price: number } | undefined)?.price);
    const waitFor = async (want: number, ms: number): Promise<number> => {
      const from = Date.now();
      while (Date.now() - from < ms) {
        if (price() === want) return Date.now() - from;
        await sleep(5);
      }
      return NaN;
    };

    await hq.sql(`UPDATE products SET price = 2 WHERE id = $1`, [product]);
    out(`a price change alone: on the till after ${await waitFor(2, 10_000)} ms`);

    await blocker.connect();
    await blocker.query('BEGIN');
    const xid = (await blocker.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]?.x;
    out(`another transaction open (xid ${xid}, database ${new URL(pgUrl).pathname.slice(1)}, not central's)`);
    const pullsBefore = pulls;
    await hq.sql(`UPDATE products SET price = 3 WHERE id = $1`, [product]);
    const early = await waitFor(3, 1000);
    out(
      `a price change committed meanwhile: ${Number.isFinite(early) ? `on the till after ${early} ms` : 'not on the till after 1 s'}` +
        ` (the engine pulled products ${pulls - pullsBefore} time(s) since, on central's hint)`,
    );
    await blocker.query('ROLLBACK');
    out('the other transaction ended');
    const late = Number.isFinite(early) ? early : await waitFor(3, 10_000);
    out(
      Number.isFinite(late)
        ? `on the till ${late} ms after it ended: not reproduced`
        : `still not on the till 10 s after it ended (price ${price()}): reproduced; it comes with the next change's hint, a reconnect or the interval pass`,
    );
    await hq.sql(`UPDATE products SET price = 4 WHERE id = $1`, [product]);
    out(`the next change (price 4): on the till after ${await waitFor(4, 10_000)} ms`);
  } finally {
    await blocker.end().catch(() => undefined);
    await service?.stop();
    store?.close();
    await hq.stop();
    dirs.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
