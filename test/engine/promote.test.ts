/**
 * The capture log and its promotion into the outbox. The triggers only append what
 * the POS wrote (cheap, inside the POS's transaction); the engine gives central ids,
 * change ids and transaction groups when it moves the log into the outbox, in one
 * transaction of its own, before anything reads the outbox.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { PRIORITY } from '../../src/shared/catalog/index.js';
import { bootstrap } from '../../src/main/sync/bootstrap.js';
import { LocalStore, type OutboxEntry } from '../../src/main/sync/store/index.js';
import { removeTempDirs, tempDir } from '../helpers/engine.js';
import { cleanEnv, killAll, spawnProc, waitUntil } from '../helpers/processes.js';

afterAll(removeTempDirs);
afterEach(killAll);

const outbox = (db: Database.Database, table?: string) =>
  db.prepare(`SELECT * FROM tillsync_outbox ${table ? 'WHERE table_name = ?' : ''} ORDER BY id`).all(...(table ? [table] : [])) as OutboxEntry[];
const captured = (db: Database.Database) => (db.prepare('SELECT count(*) AS n FROM tillsync_capture').get() as { n: number }).n;

describe('promotion of the capture log', () => {
  it('a POS write costs the POS one capture row: no central id, no outbox entry until the engine moves it', () => {
    const store = new LocalStore(join(tempDir(), 'pos.db'), 'till-p1', { create: true });
    const pos = new Database(store.base.path);
    const id = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('Ann')`).run().lastInsertRowid);
    expect(captured(pos)).toBe(1);
    expect(outbox(pos)).toHaveLength(0);
    expect(pos.prepare('SELECT server_id FROM customers WHERE id = ?').get(id)).toEqual({ server_id: null });
    // Pending already counts it, before any promotion.
    expect(store.outbox.counts().Customer).toMatchObject({ pending: 1 });

    expect(store.capture.promote()).toBe(1);
    const [e] = outbox(pos);
    const sid = (pos.prepare('SELECT server_id FROM customers WHERE id = ?').get(id) as { server_id: string }).server_id;
    expect(sid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e).toMatchObject({ operation: 'CREATE', server_id: sid, local_id: id, status: 'pending', created_in_mode: 'ONLINE' });
    expect(e?.change_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(captured(pos)).toBe(0);
    // Stamping the central id was not itself captured.
    expect(store.capture.promote()).toBe(0);
    pos.close();
    store.close();
  });

  it('updates and deletes made before the engine ran keep the id the create got; a reused local id gets a new one', () => {
    const dir = tempDir();
    const path = join(dir, 'pos.db');
    // A POS whose keys are plain rowids: SQLite reuses the id of a deleted last row.
    const legacy = new Database(path);
    legacy.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`);
    legacy.close();
    const store = new LocalStore(path, 'till-p2');
    const pos = new Database(path);
    const a = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('Ann')`).run().lastInsertRowid);
    pos.prepare(`UPDATE customers SET name = 'Anna' WHERE id = ?`).run(a);
    pos.prepare(`DELETE FROM customers WHERE id = ?`).run(a);
    const b = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('Bo')`).run().lastInsertRowid);
    expect(b).toBe(a); // the same local id, another row
    pos.prepare(`UPDATE customers SET name = 'Bob' WHERE id = ?`).run(b);

    expect(store.capture.promote()).toBe(5);
    const entries = outbox(pos, 'customers');
    expect(entries.map((e) => e.operation)).toEqual(['CREATE', 'UPDATE', 'DELETE', 'CREATE', 'UPDATE']);
    const [ann, bo] = [entries[0]?.server_id, entries[3]?.server_id];
    expect(entries.slice(0, 3).every((e) => e.server_id === ann)).toBe(true);
    expect(entries.slice(3).every((e) => e.server_id === bo)).toBe(true);
    expect(ann).not.toBe(bo);
    expect(pos.prepare('SELECT server_id, name FROM customers WHERE id = ?').get(b)).toEqual({ server_id: bo, name: 'Bob' });
    // The first row was created and deleted before any push: it sends nothing.
    const batch = store.batches.nextBatch({ limit: 50, minPriority: 0, now: Date.now(), pausedTables: new Set() });
    expect(batch.cancelled).toBe(3);
    expect(batch.changes.map((c) => [c.change.entityId, c.change.operation, c.change.data?.name])).toEqual([[bo, 'CREATE', 'Bob']]);
    pos.close();
    store.close();
  });

  it("an order's items and payments get the order's new central id as their transaction group, in capture order", () => {
    const store = new LocalStore(join(tempDir(), 'pos.db'), 'till-p3', { create: true });
    const pos = new Database(store.base.path);
    pos.transaction(() => {
      const o = pos.prepare(`INSERT INTO orders (order_number, status, total) VALUES ('P-1', 'completed', 5)`).run().lastInsertRowid;
      pos.prepare('INSERT INTO order_items (order_id, quantity) VALUES (?, 1)').run(o);
      pos.prepare(`INSERT INTO payments (order_id, amount, method, status) VALUES (?, 5, 'cash', 'captured')`).run(o);
    })();
    // A completed sale is urgent before the engine has touched it.
    expect(store.outbox.hasPending(PRIORITY.CRITICAL, Date.now())).toBe(true);
    store.capture.promote();
    const orderSid = (pos.prepare(`SELECT server_id FROM orders WHERE order_number = 'P-1'`).get() as { server_id: string }).server_id;
    expect(outbox(pos).map((e) => [e.table_name, e.tx_group, e.priority])).toEqual([
      ['orders', `orders:${orderSid}`, PRIORITY.CRITICAL],
      ['order_items', `orders:${orderSid}`, PRIORITY.HIGH], // the group travels at its highest priority
      ['payments', `orders:${orderSid}`, PRIORITY.CRITICAL],
    ]);
    pos.close();
    store.close();
  });

  it('writes to a legacy row without a central id are left to bootstrap, which queues the row once as it is now', () => {
    const dir = tempDir();
    const path = join(dir, 'pos.db');
    const legacy = new Database(path);
    legacy.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)`);
    legacy.prepare(`INSERT INTO customers (name) VALUES ('Old')`).run();
    legacy.close();
    const store = new LocalStore(path, 'till-p4');
    const pos = new Database(path);
    pos.prepare(`UPDATE customers SET name = 'Old but edited' WHERE name = 'Old'`).run();
    expect(captured(pos)).toBe(1);
    expect(store.capture.promote()).toBe(0); // dropped: the row has no central id and was not created since
    expect(outbox(pos)).toHaveLength(0);
    expect(bootstrap(store).queued).toEqual({ customers: 1 });
    const [e] = outbox(pos);
    expect(e?.operation).toBe('CREATE');
    expect(JSON.parse(e?.new_image ?? '{}')).toMatchObject({ name: 'Old but edited' });
    pos.close();
    store.close();
  });

  it('an engine killed while moving a large log loses nothing: each step is whole and each write ends up in the outbox exactly once', { timeout: 120_000 }, async () => {
    const path = join(tempDir(), 'pos.db');
    const store = new LocalStore(path, 'till-p5', { create: true });
    const total = 60_000;
    const ins = store.base.db.prepare(`INSERT INTO customers (name) VALUES (?)`);
    store.base.db.transaction(() => {
      for (let i = 0; i < total; i++) ins.run(`c${i}`);
    })();
    store.close();

    const proc = spawnProc('promote', ['--import', 'tsx', 'test/fixtures/proc-promote.ts', path], cleanEnv());
    await waitUntil('the promotion to start', () => proc.stdout().includes('promoting'), { timeout: 60_000, diagnose: () => proc.tail() });
    await new Promise((r) => setTimeout(r, 150));
    await proc.kill();
    const finished = proc.stdout().includes('done');

    const db = new Database(path);
    const inOutbox = outbox(db).length;
    // Each step (5,000 entries) is whole: moved entirely or still in the log.
    expect(inOutbox % 5000).toBe(0);
    expect(inOutbox + captured(db)).toBe(total);
    if (finished) expect(inOutbox).toBe(total);
    db.close();

    const again = new LocalStore(path, 'till-p5');
    again.capture.promote();
    const n = again.base.db.prepare(`SELECT count(*) AS n, count(DISTINCT change_id) AS ids, count(DISTINCT server_id) AS sids FROM tillsync_outbox`).get();
    expect(n).toEqual({ n: total, ids: total, sids: total });
    expect(again.base.db.prepare('SELECT count(*) AS n FROM customers WHERE server_id IS NULL').get()).toEqual({ n: 0 });
    again.close();
  });
});

describe('a long capture log', () => {
  it('moves in short transactions; rows created in one step keep their ids for entries moved in a later one, even across a restart', () => {
    const dir = tempDir();
    const path = join(dir, 'pos.db');
    const store = new LocalStore(path, 'till-p6', { create: true });
    const pos = new Database(path);
    // Written while no engine ran: every entry is captured before any id is stamped.
    const ids: number[] = [];
    pos.transaction(() => {
      for (let i = 0; i < 30; i++) ids.push(Number(pos.prepare(`INSERT INTO customers (name) VALUES (?)`).run(`c${i}`).lastInsertRowid));
      for (const id of ids) pos.prepare(`UPDATE customers SET name = name || '!' WHERE id = ?`).run(id);
      for (const id of ids.slice(0, 5)) pos.prepare(`DELETE FROM customers WHERE id = ?`).run(id);
    })();
    expect(captured(pos)).toBe(65);
    // One step of 40 entries, then the engine stops; a new one finishes the log in small steps.
    expect(store.capture.promote(40, 1)).toBe(40);
    expect(captured(pos)).toBe(25);
    store.close();
    const again = new LocalStore(path, 'till-p6');
    again.capture.promote(7);
    const entries = outbox(pos, 'customers');
    expect(entries).toHaveLength(65);
    expect(captured(pos)).toBe(0);
    for (const [i, id] of ids.entries()) {
      const mine = entries.filter((e) => e.local_id === id);
      expect(mine.map((e) => e.operation)).toEqual(i < 5 ? ['CREATE', 'UPDATE', 'DELETE'] : ['CREATE', 'UPDATE']);
      expect(new Set(mine.map((e) => e.server_id)).size).toBe(1);
      if (i >= 5) expect(pos.prepare('SELECT server_id FROM customers WHERE id = ?').get(id)).toEqual({ server_id: mine[0]?.server_id });
    }
    expect(pos.prepare('SELECT count(*) AS n FROM tillsync_minted').get()).toEqual({ n: 0 });
    pos.close();
    again.close();
  });
});

describe('local ids that move or come back', () => {
  /** A POS whose keys are plain rowids: SQLite reuses the id of a deleted last row. */
  function rowidPos(name: string): { store: LocalStore; pos: Database.Database } {
    const path = join(tempDir(), `${name}.db`);
    const legacy = new Database(path);
    legacy.exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`);
    legacy.close();
    return { store: new LocalStore(path, name), pos: new Database(path) };
  }

  it('a reused local id keeps its own central id when the log is moved one entry per step', () => {
    const { store, pos } = rowidPos('till-p7');
    const a = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('Ann')`).run().lastInsertRowid);
    pos.prepare(`DELETE FROM customers WHERE id = ?`).run(a);
    const b = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('Bo')`).run().lastInsertRowid);
    expect(b).toBe(a);
    // The first step must not stamp Ann's id on Bo's row (Ann's delete is still in the log).
    expect(store.capture.promote(1, 1)).toBe(1);
    expect(pos.prepare('SELECT server_id FROM customers WHERE id = ?').get(b)).toEqual({ server_id: null });
    store.capture.promote(1);
    const entries = outbox(pos, 'customers');
    expect(entries.map((e) => e.operation)).toEqual(['CREATE', 'DELETE', 'CREATE']);
    const [ann, , bo] = entries.map((e) => e.server_id);
    expect(entries[1]?.server_id).toBe(ann);
    expect(bo).not.toBe(ann);
    expect(pos.prepare('SELECT server_id FROM customers WHERE id = ?').get(b)).toEqual({ server_id: bo });
    // Bo's later edit is Bo's; Ann's create and delete still cancel out.
    pos.prepare(`UPDATE customers SET name = 'Bob' WHERE id = ?`).run(b);
    const batch = store.batches.nextBatch({ limit: 50, minPriority: 0, now: Date.now(), pausedTables: new Set() });
    expect(batch.cancelled).toBe(2);
    expect(batch.changes.map((c) => [c.change.entityId, c.change.operation, c.change.data?.name])).toEqual([[bo, 'CREATE', 'Bob']]);
    pos.close();
    store.close();
  });

  it('a row whose key the POS changed before the engine ran keeps its central id under the new key', () => {
    const { store, pos } = rowidPos('till-p8');
    pos.prepare(`INSERT INTO customers (id, name) VALUES (10, 'Cy')`).run();
    pos.prepare(`UPDATE customers SET id = 20 WHERE id = 10`).run();
    store.capture.promote();
    const entries = outbox(pos, 'customers');
    expect(entries.map((e) => [e.operation, e.local_id])).toEqual([
      ['CREATE', 10],
      ['UPDATE', 20],
    ]);
    expect(entries[1]?.server_id).toBe(entries[0]?.server_id);
    expect(pos.prepare('SELECT server_id FROM customers WHERE id = 20').get()).toEqual({ server_id: entries[0]?.server_id });
    // Later writes to the row are captured under that id too.
    pos.prepare(`UPDATE customers SET name = 'Cyd' WHERE id = 20`).run();
    store.capture.promote();
    expect(outbox(pos, 'customers').at(-1)).toMatchObject({ operation: 'UPDATE', server_id: entries[0]?.server_id });
    pos.close();
    store.close();
  });
});

it('moving the log from inside an apply transaction leaves capture off for the rest of it (no echo)', () => {
  const store = new LocalStore(join(tempDir(), 'pos.db'), 'till-p9', { create: true });
  const pos = new Database(store.base.path);
  pos.prepare(`INSERT INTO customers (name) VALUES ('captured')`).run();
  store.base.applying(() => {
    // enqueue moves the log itself (a nested step) ...
    store.capture.enqueue('customers', 1, 'UPDATE');
    // ... and capture is still off afterwards: the engine's own write is not captured.
    store.base.db.prepare(`INSERT INTO customers (name, server_id) VALUES ('pulled', ?)`).run(crypto.randomUUID());
  });
  expect(captured(pos)).toBe(0);
  expect(outbox(pos).map((e) => [e.operation, JSON.parse(e.new_image ?? '{}').name])).toEqual([
    ['CREATE', 'captured'],
    ['UPDATE', 'captured'],
  ]);
  pos.close();
  store.close();
});
