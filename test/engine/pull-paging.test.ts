/**
 * Pulling a large table (DESIGN.md invariant 4): pages (of snapshotPageSize while a
 * first sync reads the table, of pullPageSize on the change log), each applied
 * with its cursor in one transaction, so after a failure mid-way (central gone
 * after some pages) the rows applied and the cursor agree, and a later full sync
 * completes without duplicates.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startCentral, testDatabase, useCentral, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';
import { count, settled, type WithDb } from '../helpers/sync.js';

afterAll(closeAll);

const ROWS = 500;
const PAGE = 50;

async function manyProducts(c: WithDb, tag: string): Promise<void> {
  await c.db.query(
    `INSERT INTO products (id, sku, name, price)
     SELECT gen_random_uuid()::text, $1 || '-' || g, 'Bulk ' || g, g / 10.0 FROM generate_series(1, $2::int) AS g`,
    [tag, ROWS],
  );
}

/**
 * What a terminal at this cursor has seen of central's products: during a first
 * sync's snapshot read, the live rows up to the cursor's key; on the change log, the
 * changes at or before it.
 */
async function seenAt(c: WithDb, cursor: string | undefined): Promise<number> {
  if (!cursor) return 0;
  const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
  if (v[0] === 's') return count(c, 'products WHERE sync_deleted_at IS NULL AND id <= $1', [v[2]]);
  const [txid, seq] = v as [string, number];
  return count(c, `sync_changes WHERE entity_type = 'Product' AND (txid, seq) <= ($1::xid8, $2::bigint)`, [txid, seq]);
}

const localProducts = (e: TerminalEngine) =>
  e.store.base.db.prepare('SELECT count(*) AS n, count(DISTINCT server_id) AS d, count(DISTINCT sku) AS s FROM products').get() as { n: number; d: number; s: number };

describe('a large table', () => {
  const c = useCentral();
  afterAll(closeAll); // engines first (hooks run in reverse order), then the central

  it(`a first sync streams in pages of snapshotPageSize, and after every page the rows and the cursor agree`, async () => {
    await manyProducts(c, 'PAGE');
    const e = await startEngine(c, { config: { pullPageSize: PAGE, snapshotPageSize: PAGE } });
    await settled(c);
    const seen: { rows: number; cursor: string | undefined }[] = [];
    e.service.on('progress', (p) => {
      if (p.table === 'products') seen.push({ rows: localProducts(e).n, cursor: e.store.cursors.cursor('products') });
    });
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(seen.map((s) => s.rows)).toEqual(Array.from({ length: ROWS / PAGE }, (_, i) => (i + 1) * PAGE));
    for (const s of seen) expect(await seenAt(c, s.cursor)).toBe(s.rows);
    expect(localProducts(e)).toEqual({ n: ROWS, d: ROWS, s: ROWS });
    expect(e.outbox()).toHaveLength(0);
    // Pulling again brings nothing new.
    const again = await e.sync();
    expect(again.pulled).toBe(0);
    expect(localProducts(e).n).toBe(ROWS);
  });
});

describe('a pull that fails mid-way', () => {
  let tdb: TestDatabase;
  let first: TestCentral;
  let second: TestCentral | undefined;
  afterAll(async () => {
    await closeAll();
    await second?.close();
    await first?.close().catch(() => undefined);
    await tdb?.close();
  });

  it('when central goes away after some pages, rows and cursor agree; a later full sync completes without duplicates', async () => {
    tdb = await testDatabase();
    first = await startCentral({ db: tdb.db });
    await manyProducts(first, 'FAIL');
    const e = await startEngine(first, { config: { pullPageSize: PAGE, snapshotPageSize: PAGE } });
    await settled(first);

    let pages = 0;
    e.service.on('progress', (p) => {
      if (p.table !== 'products' || ++pages !== 3) return;
      // Central disappears right after the third page was applied: no new connection,
      // and every open one is cut.
      const server = first.central.app.server;
      server.close();
      server.closeAllConnections();
    });
    const failed = await e.service.performFullSync('test');
    expect(failed.errors.length).toBeGreaterThan(0);
    expect(e.service.status().connection).toBe('offline');
    expect(pages).toBe(3);

    const applied = localProducts(e);
    expect(applied).toEqual({ n: 3 * PAGE, d: 3 * PAGE, s: 3 * PAGE });
    expect(await seenAt(first, e.store.cursors.cursor('products'))).toBe(applied.n);
    expect(e.outbox()).toHaveLength(0);

    // Central is back (a new instance on the same database); the engine restarts too.
    second = await startCentral({ db: tdb.db });
    await e.restart({ centralUrl: second.url });
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(r.pulled).toBeGreaterThanOrEqual(ROWS - 3 * PAGE);
    expect(localProducts(e)).toEqual({ n: ROWS, d: ROWS, s: ROWS });
    expect(await seenAt(second, e.store.cursors.cursor('products'))).toBe(ROWS);
    const ids = (await second.db.query<{ id: string }>('SELECT id FROM products')).rows.map((x) => x.id);
    const missing = ids.filter((id) => e.row('products', id) === null);
    expect(missing).toEqual([]);
    expect(e.outbox()).toHaveLength(0);
  });
});
