/**
 * The purge reads the tombstones (tombstonesSql: rows deleted before the cutoff, with
 * their change-log entries) and deletes them in a later transaction. A write of a
 * tombstoned row in between (back-office SQL touching the soft-deleted row: the stamp
 * trigger bumps its version and logs a new entry, past the terminals' positions) must
 * keep the row and its entries: the purge deletes a row only at the version it read
 * (42e759a). Before, it removed the row under the new entry, and a terminal pulling
 * that entry was told CURSOR_EXPIRED (the purge-concurrency flake).
 *
 * The interleaving is forced, not raced: the purge runs on a Database whose query runs
 * the real one and, right after the tombstones read of products, commits the update
 * through the real database before handing the rows back.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/db/database.js';
import { PurgeService, tombstonesSql } from '../../src/server/services/purge.js';
import { CATALOG, type CatalogEntry } from '../../src/shared/catalog/index.js';
import { backdateDeletion, deleteProducts, freshCentral, insertProducts, logEntries, rowsThere, Till, type Fixture } from './purge-helpers.js';

const tag = () => randomBytes(4).toString('hex');

const products = ((): CatalogEntry => {
  const e = CATALOG.find((x) => x.entityType === 'Product');
  if (!e) throw new Error('no Product in the catalog');
  return e;
})();

/**
 * `db`, except that after the first read of the products' tombstones it runs `between`
 * (committed, on `db` itself) before returning that read's rows.
 */
function interleaved(db: Database, between: (read: { id: string; version: string }[]) => Promise<void>): Database & { readonly fired: () => boolean } {
  const target = tombstonesSql(products);
  let fired = false;
  return {
    kind: db.kind,
    async query<T extends object = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: T[] }> {
      const r = await db.query<T>(text, params);
      if (!fired && text === target) {
        fired = true;
        await between(r.rows as unknown as { id: string; version: string }[]);
      }
      return r;
    },
    transaction: (fn) => db.transaction(fn),
    listen: (channel, handler, onGap) => db.listen(channel, handler, onGap),
    notify: (channel, payload) => db.notify(channel, payload),
    tryLock: (key) => db.tryLock(key),
    close: () => db.close(),
    fired: () => fired,
  };
}

const quiet = { info: () => undefined, error: () => undefined };

async function versionOf(db: Database, id: string): Promise<number> {
  const r = await db.query<{ v: number }>('SELECT sync_version AS v FROM products WHERE id = $1', [id]);
  const row = r.rows[0];
  if (!row) throw new Error(`no row ${id}`);
  return Number(row.v);
}

let f: Fixture;
beforeAll(async () => {
  f = await freshCentral();
});
afterAll(async () => {
  await f?.close();
});

describe('purge: a tombstone written between the read and the delete', () => {
  it('stays, at its new version and with its new entry; a terminal past the purged entries pulls it without CURSOR_EXPIRED; an untouched tombstone of the same run is purged', async () => {
    const prefix = `ilv-${tag()}-`;
    const touched = `${prefix}touched`;
    const untouched = `${prefix}untouched`;
    const marker = `${prefix}marker`;
    const till = new Till(await f.c.provision('s1'), 'Product', 1000, false);
    await till.begin();
    await insertProducts(f.c.db, [touched, untouched]);
    await deleteProducts(f.c.db, [touched, untouched]);
    await backdateDeletion(f.c.db, [touched, untouched]);
    await insertProducts(f.c.db, [marker]); // the deletions are not the log's last entries
    await till.drainAndReport(); // its position: past both deletions (it holds the purge back no further)
    expect(till.held.has(touched)).toBe(false);
    expect(till.held.has(untouched)).toBe(false);
    const cursor = till.cursor;
    const read = await versionOf(f.c.db, touched);

    // The back office touches the soft-deleted row right after the purge read it.
    let readAs: string | undefined;
    const db = interleaved(f.c.db, async (rows) => {
      readAs = rows.find((r) => r.id === touched)?.version;
      await f.c.db.query('UPDATE products SET price = price + 1 WHERE id = $1', [touched]);
    });
    const purge = new PurgeService(db, f.c.central.metrics, quiet, { retentionSeconds: f.c.central.config.retentionSeconds }, () => f.c.central.flushPositions());
    const report = await purge.run();
    if (!report) throw new Error('the purge was skipped (lock taken)');
    expect(db.fired()).toBe(true);
    expect(readAs, 'the purge read the touched tombstone (at its version before the update)').toBe(String(read));

    // The untouched tombstone went, with its entries: the run did purge.
    expect(await rowsThere(f.c.db, [untouched])).toEqual([]);
    expect(await logEntries(f.c.db, untouched)).toEqual([]);
    // The touched one stays, at its new version, with its new entry; not counted as removed.
    expect.soft(await rowsThere(f.c.db, [touched]), 'the tombstone updated between the read and the delete was hard-deleted').toEqual([touched]);
    expect.soft(report.removed.tombstones).toBe(1);
    expect.soft(report.tables.Product?.tombstones).toBe(1);
    const entries = await logEntries(f.c.db, touched);
    expect.soft(entries).toContainEqual(expect.objectContaining({ entity_id: touched, op: 'DELETE', version: read + 1 }));
    const now = await f.c.db.query<{ v: number; deleted: boolean }>('SELECT sync_version AS v, sync_deleted_at IS NOT NULL AS deleted FROM products WHERE id = $1', [
      touched,
    ]);
    expect.soft(now.rows.map((r) => ({ v: Number(r.v), deleted: r.deleted }))).toEqual([{ v: read + 1, deleted: true }]);

    // The terminal pulls on from its position (past the purged entries): not expired, and
    // served the touched row's latest entry (still a deletion).
    const r = await till.get({ cursor, limit: 1000 });
    expect(r.status, r.text).toBe(200);
    const served = r.body.changes.filter((c) => c.entityId === touched);
    expect(served).toEqual([expect.objectContaining({ entityId: touched, version: read + 1, deleted: true })]);
    expect(r.body.changes.some((c) => c.entityId === untouched)).toBe(false);

    // Once the terminal has pulled past the new entry too, the next purge removes it.
    await till.drainAndReport();
    expect(till.expired).toBe(0);
    const later = await f.c.central.purge.run();
    expect(later?.removed.tombstones).toBe(1);
    expect(await rowsThere(f.c.db, [touched, marker])).toEqual([marker]);
    expect(await logEntries(f.c.db, touched)).toEqual([]);
  });
});
