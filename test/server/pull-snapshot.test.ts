/**
 * A first sync that starts from a snapshot (GET /api/sync/pull?start=snapshot): the
 * table's live rows in key order, then the change log from where that read began.
 * DESIGN.md invariant 4 for this cursor kind: whatever is written while the read is
 * under way (rows behind its position, rows it already served, deletes, a
 * transaction that was open when it began and commits after the read passed its
 * rows), following the cursors to the end leaves the terminal with every live row at
 * central's version, and no page ever serves a row older than one served before.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryForEntity, type CatalogEntry } from '../../src/shared/catalog/index.js';
import type { PulledChange, PullResponse } from '../../src/shared/protocol.js';
import { SNAPSHOT_PLAN, snapshotPageSql } from '../../src/server/services/pull.js';
import { onPostgres, startCentral, testDatabase, useCentral, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { pull, settled, type WithDb } from '../helpers/sync.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** A terminal following cursors from a snapshot start: the newest image it holds per row, and every page. */
class FirstSync {
  readonly held = new Map<string, PulledChange>();
  readonly pages: PullResponse[] = [];
  cursor: string | undefined;

  constructor(
    private readonly t: ProvisionedTerminal,
    private readonly entityType: string,
    private readonly limit: number,
  ) {}

  /** One page; applies it as a terminal would (a version it has is skipped, a tombstone removes the row). */
  async page(): Promise<PullResponse> {
    const q = this.cursor ? { cursor: this.cursor, limit: this.limit } : { start: 'snapshot', limit: this.limit };
    const r = await pull(this.t.api, this.t.terminalId, this.entityType, q);
    expect(r.status, r.text).toBe(200);
    for (const c of r.body.changes) {
      const had = this.held.get(c.entityId);
      // Rows are served as they are now: never older than what was served before.
      expect(c.version, c.entityId).toBeGreaterThanOrEqual(had?.version ?? 0);
      if (had && had.version >= c.version) continue;
      if (c.deleted) this.held.delete(c.entityId);
      else this.held.set(c.entityId, c);
    }
    this.pages.push(r.body);
    this.cursor = r.body.cursor;
    return r.body;
  }

  /** Pages until the snapshot read has handed over to the change log. */
  async readSnapshot(): Promise<void> {
    for (let i = 0; i < 10_000; i++) if ((await this.page()).snapshot !== true) return;
    throw new Error('the snapshot read never ended');
  }

  async drain(): Promise<void> {
    for (let i = 0; i < 10_000; i++) if (!(await this.page()).hasMore) return;
    throw new Error('pull never reached the end');
  }

  versions(prefix: string): Record<string, number> {
    return Object.fromEntries([...this.held].filter(([id]) => id.startsWith(prefix)).map(([id, c]) => [id, c.version]).sort());
  }
}

/** Central's live rows (id -> version) whose id starts with `prefix`. */
async function liveVersions(c: WithDb, table: string, prefix: string): Promise<Record<string, number>> {
  const r = await c.db.query<{ id: string; v: number }>(
    `SELECT id, sync_version AS v FROM ${table} WHERE id LIKE $1 AND sync_deleted_at IS NULL ORDER BY id`,
    [`${prefix}%`],
  );
  return Object.fromEntries(r.rows.map((x) => [x.id, Number(x.v)]).sort());
}

const insertProducts = (c: WithDb, prefix: string, from: number, to: number) =>
  c.db.query(
    `INSERT INTO products (id, sku, name, price) SELECT $1 || lpad(g::text, 4, '0'), $1 || g, 'Snap ' || g, 1 FROM generate_series($2::int, $3::int) g`,
    [prefix, from, to],
  );

describe('snapshot start (every database)', () => {
  const c = useCentral();
  let t: ProvisionedTerminal;
  let other: ProvisionedTerminal;
  beforeAll(async () => {
    t = await c.provision(uid('snap-store'));
    other = await c.provision(uid('snap-other'));
  });

  it('serves every live row once in key order, without tombstones, in pages of the limit, then hands over to the log', async () => {
    const prefix = `${uid('all')}-`;
    await insertProducts(c, prefix, 1, 25);
    await c.db.query(`DELETE FROM products WHERE id = $1`, [`${prefix}0007`]);
    await settled(c);
    const s = new FirstSync(t, 'Product', 10);
    await s.readSnapshot();
    const served = s.pages.filter((p) => p.snapshot).flatMap((p) => p.changes.map((x) => x.entityId));
    expect(new Set(served).size).toBe(served.length);
    expect(served).toEqual([...served].sort());
    const mine = served.filter((id) => id.startsWith(prefix));
    expect(mine).toHaveLength(24);
    expect(mine).not.toContain(`${prefix}0007`);
    for (const p of s.pages.slice(0, -1)) expect(p.changes.length).toBeLessThanOrEqual(10);
    for (const p of s.pages.filter((x) => x.snapshot)) expect(p.hasMore).toBe(true); // the log follows
    expect(s.pages.filter((p) => p.snapshot).every((p) => p.changes.every((x) => !x.deleted && x.operation === 'CREATE'))).toBe(true);
    // The change log from the handover point has nothing older than the read.
    await s.drain();
    expect(s.pages.at(-1)?.snapshot).toBeUndefined();
    expect(s.versions(prefix)).toEqual(await liveVersions(c, 'products', prefix));
  });

  it('writes made while the read is under way reach the terminal through the log: behind it, ahead of it, deletes, updates of served rows', async () => {
    const prefix = `${uid('during')}-`;
    await insertProducts(c, prefix, 10, 40);
    await settled(c);
    const s = new FirstSync(t, 'Product', 5);
    // Read until the position is inside our rows.
    for (let i = 0; i < 10_000 && ![...s.held.keys()].some((id) => id.startsWith(prefix)); i++) await s.page();
    const position = [...s.held.keys()].filter((id) => id.startsWith(prefix)).sort().at(-1) as string;
    expect(position).toBeDefined();
    await insertProducts(c, prefix, 1, 3); // behind the position: the read will not come back for them
    await c.db.query(`UPDATE products SET price = 9 WHERE id = $1`, [`${prefix}0010`]); // already served
    await c.db.query(`UPDATE products SET price = 8 WHERE id = $1`, [`${prefix}0039`]); // not read yet
    await c.db.query(`DELETE FROM products WHERE id IN ($1, $2)`, [`${prefix}0011`, `${prefix}0038`]); // one served, one not
    await settled(c);
    await s.drain();
    expect(s.versions(prefix)).toEqual(await liveVersions(c, 'products', prefix));
    expect(s.held.get(`${prefix}0010`)?.data.price).toBe(9);
    expect(s.held.get(`${prefix}0039`)?.data.price).toBe(8);
    expect(s.held.has(`${prefix}0001`)).toBe(true);
    expect(s.held.has(`${prefix}0011`)).toBe(false);
    expect(s.held.has(`${prefix}0038`)).toBe(false);
  });

  it("a store's terminal reads only its store's rows and global ones", async () => {
    const prefix = `${uid('scope')}-`;
    const product = uid('prod');
    await c.db.query(
      `INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $4, 1), ($3, $5, $4, 2)`,
      [`${prefix}a`, t.storeId, `${prefix}b`, product, other.storeId],
    );
    await c.db.query(`INSERT INTO discounts (id, store_id, name, kind, value) VALUES ($1, NULL, 'All', 'percent', 5), ($2, $3, 'Other', 'percent', 6)`, [
      `${prefix}g`,
      `${prefix}o`,
      other.storeId,
    ]);
    await settled(c);
    const inv = new FirstSync(t, 'InventoryItem', 3);
    await inv.drain();
    expect(Object.keys(inv.versions(prefix))).toEqual([`${prefix}a`]);
    for (const x of inv.held.values()) expect(x.data.store_id).toBe(t.storeId);
    const disc = new FirstSync(t, 'Discount', 3);
    await disc.drain();
    expect(Object.keys(disc.versions(prefix))).toEqual([`${prefix}g`]);
  });

  it('a cursor that is not ours is refused, and a resume point ahead of the database is CURSOR_AHEAD', async () => {
    const forged = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [['s', 'x', null], ['s', '12', 5], ['s', '12'], ['s', '1'.repeat(21), null], ['s', '12', 'k'.repeat(201)]]) {
      const r = await pull(t.api, t.terminalId, 'Product', { cursor: forged(bad) });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect((r.body as unknown as { code: string }).code).toBe('INVALID_CURSOR');
    }
    const ahead = await pull(t.api, t.terminalId, 'Product', { cursor: forged(['s', '999999999999', 'a']) });
    expect(ahead.status).toBe(409);
    expect((ahead.body as unknown as { code: string }).code).toBe('CURSOR_AHEAD');
    const wrong = await pull(t.api, t.terminalId, 'Product', { start: 'everything' });
    expect(wrong.status).toBe(400);
  });

  it('after a bulk import (no ANALYZE), a snapshot page walks the primary key in order and sorts nothing, scoped or not', async () => {
    await c.db.query(
      `INSERT INTO products (id, sku, name, price) SELECT 'splan-' || lpad(i::text, 6, '0'), 'SPLAN-' || i, 'P', 1 FROM generate_series(1, 20000) i`,
    );
    for (const [entityType, params] of [
      ['Product', [500, 'splan-010000']],
      ['InventoryItem', [500, 'x', 'store-1']],
    ] as const) {
      const entry = entryForEntity(entityType) as CatalogEntry;
      const plan = await c.db.transaction(async (tx) => {
        await tx.query(SNAPSHOT_PLAN);
        const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${snapshotPageSql(entry, true)}`, [...params]);
        return r.rows.map((x) => x['QUERY PLAN']).join('\n');
      });
      expect(plan).toMatch(/Index Scan using \w+_pkey/);
      expect(plan).not.toMatch(/Sort|Bitmap/);
    }
  });
});

describe.runIf(onPostgres)('snapshot start under real concurrency (PostgreSQL)', () => {
  let td: TestDatabase;
  let c: TestCentral;
  let t: ProvisionedTerminal;
  const clients: pg.Client[] = [];
  async function client(): Promise<pg.Client> {
    const cl = new pg.Client({ connectionString: td.url as string });
    await cl.connect();
    clients.push(cl);
    return cl;
  }
  beforeAll(async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    t = await c.provision(uid('s'), uid('t'));
  });
  afterAll(async () => {
    for (const cl of clients.splice(0)) await cl.end().catch(() => undefined);
    await c?.close();
    await td?.close();
  });

  it('a transaction open when the read began, committing after the read passed its rows, is served by the log', async () => {
    const prefix = `${uid('open')}-`;
    await insertProducts(c, prefix, 1, 20);
    const a = await client();
    await a.query('BEGIN');
    await a.query(`UPDATE products SET price = 5 WHERE id = $1`, [`${prefix}0002`]); // a row the read will pass
    await a.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $1, 'Late', 1)`, [`${prefix}0003x`]);
    // B starts after A and commits first: the read's snapshot then has A below its xmax,
    // still running (a resume point at xmax, not xmin, would skip A).
    const b = await client();
    await b.query(`UPDATE products SET price = 7 WHERE id = $1`, [`${prefix}0019`]);
    const s = new FirstSync(t, 'Product', 4);
    await s.readSnapshot(); // the whole read happens while A is open
    expect(s.held.get(`${prefix}0002`)?.version).toBe(1);
    expect(s.held.has(`${prefix}0003x`)).toBe(false);
    await a.query('COMMIT');
    await s.drain();
    expect(s.held.get(`${prefix}0002`)?.version).toBe(2);
    expect(s.held.get(`${prefix}0002`)?.data.price).toBe(5);
    expect(s.held.has(`${prefix}0003x`)).toBe(true);
    expect(s.versions(prefix)).toEqual(await liveVersions(c, 'products', prefix));
  });

  it('randomized: concurrent writers inserting, updating and deleting while a first sync reads in pages of 3', async () => {
    const prefix = `${uid('rnd')}-`;
    await insertProducts(c, prefix, 1, 60);
    const writers = await Promise.all([client(), client(), client(), client()]);
    let stop = false;
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const write = async (w: pg.Client, k: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        const id = `${prefix}${String(1 + rand(90)).padStart(4, '0')}`;
        await w.query('BEGIN');
        const op = rand(3);
        if (op === 0) await w.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $1, 'W', 1) ON CONFLICT (id) DO UPDATE SET sync_deleted_at = NULL, price = products.price + 1`, [id]);
        else if (op === 1) await w.query(`UPDATE products SET price = price + 1 WHERE id = $1`, [id]);
        else await w.query(`DELETE FROM products WHERE id = $1`, [id]);
        await new Promise((r) => setTimeout(r, rand(4) + k)); // hold the transaction open a little
        await w.query('COMMIT');
      }
    };
    const running = writers.map((w, k) => write(w, k).catch((err: unknown) => err));
    const s = new FirstSync(t, 'Product', 3);
    await s.readSnapshot();
    stop = true;
    const failures = (await Promise.all(running)).filter((x) => x !== undefined);
    expect(failures).toEqual([]);
    await settled(c);
    await s.drain();
    expect(s.versions(prefix)).toEqual(await liveVersions(c, 'products', prefix));
  });
});
