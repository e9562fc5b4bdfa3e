/**
 * A terminal behind central's purge horizon (DESIGN.md invariant 10): central has
 * purged deleted rows, and their change-log entries, past the terminal's cursor and
 * refuses its pull with CURSOR_EXPIRED. The terminal reads the table again from a
 * snapshot and ends with exactly central's live rows: what it held from central that
 * the read did not bring is deleted here, except that a row with local changes not at
 * central yet goes through the table's strategy as for a pulled delete, and a row made
 * here and never synced stays. A restart mid-way through the read changes none of it.
 *
 * Central's purge is done by hand here (tombstones and their log entries removed, the
 * table's purge horizon moved past them), as central's purge leaves its database.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralClient } from '../../src/main/sync/central-client.js';
import type { PullQuery } from '../../src/shared/protocol.js';
import { useCentral, type TestCentral } from '../helpers/central.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';

afterAll(closeAll);

/** The engine's pull requests as it sends them, and a hook run before each goes out (a spy on the real client). */
const calls: { entityType: string; start?: string | undefined; cursor?: string | undefined }[] = [];
let beforePull: (q: PullQuery) => void = () => undefined;
const originalPull = CentralClient.prototype.pull;
beforeEach(() => {
  calls.length = 0;
  beforePull = () => undefined;
  CentralClient.prototype.pull = function (this: CentralClient, q) {
    calls.push({ entityType: q.entityType, start: q.start, cursor: q.cursor });
    beforePull(q);
    return originalPull.call(this, q);
  };
});
afterEach(() => {
  CentralClient.prototype.pull = originalPull;
});

/**
 * Central's purge of these rows: their tombstones go for real, with every change-log
 * entry of them, and the table's purge horizon moves to the last of their deletions
 * (a cursor behind it gets CURSOR_EXPIRED).
 */
async function purge(c: TestCentral, table: string, entityType: string, ids: readonly string[]): Promise<void> {
  const json = JSON.stringify(ids);
  await c.db.transaction(async (tx) => {
    const last = await tx.query<{ txid: string; seq: string }>(
      `SELECT txid::text AS txid, seq::text AS seq FROM sync_changes
       WHERE entity_type = $1 AND op = 'DELETE' AND entity_id IN (SELECT jsonb_array_elements_text($2::jsonb))
       ORDER BY txid DESC, seq DESC LIMIT 1`,
      [entityType, json],
    );
    const horizon = last.rows[0];
    if (!horizon) throw new Error(`no deletion of ${json} in the change log`);
    await tx.query(`SELECT set_config('tillsync.purge', 'on', true)`);
    const gone = await tx.query(`DELETE FROM ${table} WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)) AND sync_deleted_at IS NOT NULL RETURNING id`, [json]);
    if (gone.rows.length !== ids.length) throw new Error(`purge: ${gone.rows.length} tombstones of ${json}`);
    await tx.query(`DELETE FROM sync_changes WHERE entity_type = $1 AND entity_id IN (SELECT jsonb_array_elements_text($2::jsonb))`, [entityType, json]);
    await tx.query(
      `INSERT INTO sync_purge_horizons (entity_type, txid, seq, changed_at) VALUES ($1, $2::xid8, $3::bigint, now())
       ON CONFLICT (entity_type) DO UPDATE SET txid = excluded.txid, seq = excluded.seq, changed_at = excluded.changed_at`,
      [entityType, horizon.txid, horizon.seq],
    );
  });
}

/** Central's live rows of `table` whose id starts with `prefix`. */
async function centralIds(c: TestCentral, table: string, prefix: string): Promise<string[]> {
  const r = await c.db.query<{ id: string }>(`SELECT id FROM ${table} WHERE sync_deleted_at IS NULL AND id LIKE $1 ORDER BY id`, [`${prefix}%`]);
  return r.rows.map((x) => x.id);
}

/** The terminal's rows of `table` with a central id starting with `prefix`. */
function localIds(e: TerminalEngine, table: string, prefix: string): string[] {
  const rows = e.store.base.db.prepare(`SELECT server_id FROM "${table}" WHERE server_id LIKE ? ORDER BY server_id`).all(`${prefix}%`) as { server_id: string }[];
  return rows.map((x) => x.server_id);
}

async function products(c: TestCentral, prefix: string, n: number): Promise<void> {
  await c.db.query(
    `INSERT INTO products (id, sku, name, price) SELECT $1 || lpad(g::text, 2, '0'), $1 || g, 'Product ' || g, g FROM generate_series(1, $2::int) g`,
    [prefix, n],
  );
}

const productPulls = () => calls.filter((x) => x.entityType === 'Product');

describe('a terminal whose cursor central purged past', () => {
  const c = useCentral();
  afterAll(closeAll); // engines first (hooks run in reverse order), then the central

  it('reads the table again from a snapshot and ends with exactly central\'s live rows: purged rows deleted, live ones kept and updated', async () => {
    await products(c, 'ra-', 6);
    const e = await startEngine(c);
    expect((await e.sync()).errors).toEqual([]);
    expect(localIds(e, 'products', 'ra-')).toHaveLength(6);
    const keptLocalId = e.row('products', 'ra-01')?.id;

    await c.db.query(`UPDATE products SET price = 42 WHERE id = 'ra-02'`);
    await c.db.query(`DELETE FROM products WHERE id IN ('ra-03', 'ra-05')`);
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ('ra-07', 'ra-7', 'Product 7', 7)`);
    await purge(c, 'products', 'Product', ['ra-03', 'ra-05']);

    calls.length = 0;
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(productPulls().some((p) => p.start === 'snapshot')).toBe(true);
    expect(localIds(e, 'products', 'ra-')).toEqual(await centralIds(c, 'products', 'ra-'));
    expect(localIds(e, 'products', 'ra-')).toEqual(['ra-01', 'ra-02', 'ra-04', 'ra-06', 'ra-07']);
    expect(e.row('products', 'ra-02')?.price).toBe(42);
    // A row kept is the same POS row (what points at it still does), not a new copy.
    expect(e.row('products', 'ra-01')?.id).toBe(keptLocalId);
    expect(e.outbox()).toHaveLength(0); // nothing applied was captured

    // Afterwards the table follows the change log again: a delete reaches it as a delete.
    calls.length = 0;
    await c.db.query(`DELETE FROM products WHERE id = 'ra-04'`);
    expect((await e.sync()).errors).toEqual([]);
    expect(productPulls().every((p) => p.start === undefined && p.cursor !== undefined)).toBe(true);
    expect(e.row('products', 'ra-04')).toBeNull();
    expect(localIds(e, 'products', 'ra-')).toEqual(await centralIds(c, 'products', 'ra-'));
  });

  it('a purged row with a local change not at central yet: central wins for products (row deleted, change superseded and never sent)', async () => {
    await products(c, 'rb-', 3);
    const e = await startEngine(c);
    expect((await e.sync()).errors).toEqual([]);

    await c.db.query(`DELETE FROM products WHERE id = 'rb-01'`);
    await purge(c, 'products', 'Product', ['rb-01']);
    // The POS edits the row just as the pull sets out (after the pass pushed): the change waits in the outbox.
    beforePull = (q) => {
      if (q.entityType !== 'Product' || e.outbox({ serverId: 'rb-01' }).length > 0) return;
      e.pos().prepare(`UPDATE products SET price = 99 WHERE server_id = 'rb-01'`).run();
    };
    expect((await e.sync()).errors).toEqual([]);
    expect(e.outbox({ serverId: 'rb-01' })).toHaveLength(1);
    expect(e.row('products', 'rb-01')).toBeNull();
    expect(e.outbox({ serverId: 'rb-01', status: 'pending' })).toHaveLength(0);
    expect(localIds(e, 'products', 'rb-')).toEqual(['rb-02', 'rb-03']);

    beforePull = () => undefined;
    expect((await e.sync()).errors).toEqual([]);
    expect((await c.db.query(`SELECT id FROM products WHERE id = 'rb-01'`)).rows).toEqual([]);
    expect(localIds(e, 'products', 'rb-')).toEqual(await centralIds(c, 'products', 'rb-'));
  });

  it('a purged row with a local change not at central yet: customers merge, so the row stays as the terminal has it and reaches central again', async () => {
    await c.db.query(
      `INSERT INTO customers (id, name, loyalty_points, total_spent, visit_count) VALUES ('rc-01', 'Ann', 100, 250.5, 4), ('rc-02', 'Bob', 5, 10, 1)`,
    );
    const e = await startEngine(c);
    expect((await e.sync()).errors).toEqual([]);

    await c.db.query(`DELETE FROM customers WHERE id IN ('rc-01', 'rc-02')`);
    await purge(c, 'customers', 'Customer', ['rc-01', 'rc-02']);
    beforePull = (q) => {
      if (q.entityType !== 'Customer' || e.outbox({ serverId: 'rc-01' }).length > 0) return;
      e.pos().prepare(`UPDATE customers SET notes = 'regular', loyalty_points = loyalty_points + 10 WHERE server_id = 'rc-01'`).run();
    };
    expect((await e.sync()).errors).toEqual([]);
    // rc-02 had nothing of ours waiting: it is gone. rc-01 stays, as the terminal has it.
    expect(e.row('customers', 'rc-02')).toBeNull();
    expect(e.row('customers', 'rc-01')).toMatchObject({ name: 'Ann', notes: 'regular', loyalty_points: 110, total_spent: 250.5, visit_count: 4 });

    beforePull = () => undefined;
    expect((await e.sync()).errors).toEqual([]);
    const atCentral = await c.db.query<Record<string, unknown>>(
      `SELECT name, notes, loyalty_points, total_spent::float8 AS total_spent, visit_count, sync_deleted_at FROM customers WHERE id = 'rc-01'`,
    );
    expect(atCentral.rows).toEqual([{ name: 'Ann', notes: 'regular', loyalty_points: 110, total_spent: 250.5, visit_count: 4, sync_deleted_at: null }]);
    expect(e.outbox({ serverId: 'rc-01', status: 'pending' })).toHaveLength(0);
    expect(localIds(e, 'customers', 'rc-')).toEqual(await centralIds(c, 'customers', 'rc-'));
  });

  it('a row made on the terminal and not synced yet stays through the re-read, and reaches central afterwards', async () => {
    await products(c, 'rd-', 3);
    const e = await startEngine(c);
    expect((await e.sync()).errors).toEqual([]);

    await c.db.query(`DELETE FROM products WHERE id = 'rd-02'`);
    await purge(c, 'products', 'Product', ['rd-02']);
    let made: number | bigint | undefined;
    beforePull = (q) => {
      if (q.entityType !== 'Product' || made !== undefined) return;
      made = e.pos().prepare(`INSERT INTO products (sku, name, price) VALUES ('rd-new', 'Made here', 3.5)`).run().lastInsertRowid;
    };
    expect((await e.sync()).errors).toEqual([]);
    expect(made).toBeDefined();
    const id = e.serverIdOf('products', made as number);
    expect(e.row('products', id)).toMatchObject({ sku: 'rd-new', name: 'Made here', price: 3.5 });
    expect(e.outbox({ serverId: id, status: 'pending' })).toHaveLength(1);
    expect(localIds(e, 'products', 'rd-')).toEqual(['rd-01', 'rd-03']);

    beforePull = () => undefined;
    expect((await e.sync()).errors).toEqual([]);
    expect((await c.db.query(`SELECT sku FROM products WHERE id = $1 AND sync_deleted_at IS NULL`, [id])).rows).toEqual([{ sku: 'rd-new' }]);
    expect(e.row('products', id)).toMatchObject({ sku: 'rd-new' });
  });

  it('a restart in the middle of the re-read still ends with exactly central\'s live rows', async () => {
    const config = { snapshotPageSize: 3, pullPageSize: 3 };
    await products(c, 're-', 10);
    const first = await startEngine(c, { config });
    expect((await first.sync()).errors).toEqual([]);
    expect(localIds(first, 'products', 're-')).toHaveLength(10);
    const keptLocalId = first.row('products', 're-01')?.id;

    // Purged rows in the first page's key range and in a later one.
    await c.db.query(`DELETE FROM products WHERE id IN ('re-02', 're-09')`);
    await purge(c, 'products', 'Product', ['re-02', 're-09']);
    await c.db.query(`UPDATE products SET price = 55 WHERE id = 're-07'`);

    // The engine stops right after the re-read's first page is written.
    let stopped = false;
    first.service.on('progress', (p) => {
      if (p.table !== 'products' || stopped) return;
      stopped = true;
      void first.service.stop();
    });
    await first.sync();
    expect(stopped).toBe(true);
    expect(first.row('products', 're-09')).not.toBeNull(); // the read had not ended
    await first.close();

    // Central moves on while the terminal is down: a row the read passed already changes.
    await c.db.query(`UPDATE products SET price = 11 WHERE id = 're-01'`);

    const again = await startEngine(c, { path: first.path, terminal: first.terminal, config });
    expect((await again.sync()).errors).toEqual([]);
    expect(localIds(again, 'products', 're-')).toEqual(await centralIds(c, 'products', 're-'));
    expect(localIds(again, 'products', 're-')).toEqual(['re-01', 're-03', 're-04', 're-05', 're-06', 're-07', 're-08', 're-10']);
    expect(again.row('products', 're-01')).toMatchObject({ id: keptLocalId, price: 11 });
    expect(again.row('products', 're-07')?.price).toBe(55);
    expect(again.outbox()).toHaveLength(0);
  });
});
