/**
 * Choosing a push batch costs the batch, not the backlog: every statement nextBatch
 * uses to pick and read groups goes through an index, never a scan of the pending
 * outbox (a till offline for days has hundreds of thousands of entries, and a scan
 * per batch made draining them quadratic). Checked on SQLite's own query plans, and
 * by draining a backlog in priority order whole groups at a time.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_SQL, LocalStore } from '../../src/main/sync/store/index.js';
import { entryOfRow } from '../../src/main/sync/store/outbox-status.js';
import { PosSimulator } from '../../src/agent/simulator.js';
import { removeTempDirs, tempDir } from '../helpers/engine.js';

afterAll(removeTempDirs);

function backlog(sales: number): { store: LocalStore; path: string } {
  const path = join(tempDir(), 'pos.db');
  const store = new LocalStore(path, 'till-plan', { create: true });
  store.base.db.exec(`INSERT INTO stores (name, code) VALUES ('Shop', 'S1')`);
  const add = store.base.db.prepare(`INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)`);
  for (let i = 0; i < 30; i++) add.run(`PLAN-${i}`, `Product ${i}`, 1 + i);
  const sim = new PosSimulator(path, { seed: 7 });
  sim.db.transaction(() => {
    for (let i = 0; i < sales; i++) sim.saleOnce();
  })();
  sim.close();
  store.capture.promote(); // the captured sales into the outbox, as the engine does before it reads it
  return { store, path };
}

describe('choosing a push batch', () => {
  it('reads the outbox only through indexes: no scan, no sort of the pending backlog', () => {
    const { store } = backlog(50);
    for (const [name, sql] of Object.entries(BATCH_SQL)) {
      const plan = (store.base.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...new Array((sql.match(/\?/g) ?? []).length).fill(null)) as { detail: string }[]).map((r) => r.detail);
      const outbox = plan.filter((d) => /tillsync_outbox| o /.test(d));
      expect(outbox.length, `${name}: ${plan.join(' | ')}`).toBeGreaterThan(0);
      for (const d of outbox) {
        expect(d, `${name} scans the outbox: ${plan.join(' | ')}`).not.toMatch(/^SCAN/);
        // The queue index searched by status alone would walk every pending entry.
        expect(d, `${name}: ${plan.join(' | ')}`).not.toMatch(/queue_idx \(status=\?\)$/);
      }
    }
    store.close();
  });

  it('reads a batch\'s entries raw into exactly the entries the object read gives, every column of the entry type', () => {
    const { store } = backlog(20);
    // Some entries sent, backed off and failed, so no column is only ever null.
    store.base.db.exec(`UPDATE tillsync_outbox SET sent_as = change_id, base_version = 3, hlc = '000000000000001:00000:t', attempts = 2, next_attempt_at = 5, last_error = 'x' WHERE id % 3 = 0`);
    const groups = JSON.stringify((store.base.db.prepare(`SELECT DISTINCT coalesce(tx_group, table_name || ':' || server_id) AS g FROM tillsync_outbox`).all() as { g: string }[]).map((r) => r.g));
    const raw = (store.base.rawStmt(BATCH_SQL.groupEntries).all(groups, '[]') as unknown[][]).map(entryOfRow);
    const objects = store.base.db.prepare(BATCH_SQL.groupEntries).all(groups, '[]') as Record<string, unknown>[];
    expect(raw.length).toBeGreaterThan(100);
    expect(raw).toEqual(objects);
    // Every column the outbox has that an entry declares is read (result_version, conflict_id and synced_at are not an entry's).
    const columns = (store.base.db.prepare(`SELECT name FROM pragma_table_info('tillsync_outbox')`).all() as { name: string }[]).map((c) => c.name);
    expect(columns.filter((c) => !Object.hasOwn(raw[0] as object, c)).sort()).toEqual(['conflict_id', 'result_version', 'synced_at']);
    store.close();
  });

  it('drains a backlog most urgent first, whole transaction groups, every entry exactly once', () => {
    const { store } = backlog(120);
    const pending = (store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status = 'pending'`).get() as { n: number }).n;
    const seen = new Set<number>();
    const priorities: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const b = store.batches.nextBatch({ limit: 40, minPriority: 0, now: Date.now(), pausedTables: new Set() });
      if (b.changes.length === 0) break;
      const ids = b.changes.flatMap((c) => c.entryIds);
      for (const id of ids) {
        expect(seen.has(id)).toBe(false);
        seen.add(id);
      }
      // A group is never split across batches: every pending entry of a group in this batch is in it.
      const groups = new Set(b.changes.map((c) => c.change.transactionGroup).filter((g): g is string => g !== undefined));
      for (const g of groups) {
        const left = (store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE tx_group = ? AND status = 'pending' AND sent_as IS NULL`).get(g) as { n: number }).n;
        expect(left, `group ${g} split`).toBe(0);
      }
      priorities.push(Math.max(...b.changes.map((c) => c.change.priority ?? 0)));
      // Settle the batch as central would have.
      store.base.db.prepare(`UPDATE tillsync_outbox SET status = 'synced' WHERE id IN (SELECT value FROM json_each(?))`).run(JSON.stringify(ids));
    }
    expect(seen.size).toBe(pending);
    expect(priorities).toEqual([...priorities].sort((a, b) => b - a));
    expect(new Database(store.base.path).prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status = 'pending'`).get()).toEqual({ n: 0 });
    store.close();
  });
});
