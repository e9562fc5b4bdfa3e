/**
 * The local-only columns a new POS table gets: its keys and `terminal_id`, not the
 * seed's `sync_status`, `sync_operation` and `last_sync_at`, which TillSync never wrote
 * (a row's sync state is the outbox's). A POS table that already has them keeps them.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CATALOG, LOCAL_KEY, LOCAL_SERVER_ID } from '../../src/shared/catalog/index.js';
import { installSchema, tableColumns } from '../../src/main/sync/schema.js';

const NEVER_WRITTEN = ['sync_status', 'sync_operation', 'last_sync_at'];

describe('local-only columns of the POS tables', () => {
  it('a new terminal gets its keys and terminal_id, and no second copy of the sync state', () => {
    const db = new Database(':memory:');
    installSchema(db, { createMissing: true, warn: () => undefined });
    for (const e of CATALOG) {
      const cols = [...tableColumns(db, e.table).keys()];
      expect(cols, e.table).toEqual(expect.arrayContaining([LOCAL_KEY, LOCAL_SERVER_ID, 'terminal_id']));
      for (const c of NEVER_WRITTEN) expect(cols, `${e.table}.${c}`).not.toContain(c);
    }
    db.close();
  });

  it("a POS's own table that has them keeps them (nothing is dropped)", () => {
    const db = new Database(':memory:');
    const products = CATALOG.find((e) => e.table === 'products');
    if (!products) throw new Error('products is in the catalog');
    db.exec(
      `CREATE TABLE products (id INTEGER PRIMARY KEY AUTOINCREMENT, server_id TEXT UNIQUE, ${products.wireColumns.map((c) => `"${c.local}"`).join(', ')}, sync_status TEXT, sync_operation TEXT, last_sync_at TEXT, terminal_id TEXT)`,
    );
    installSchema(db, { createMissing: true, warn: () => undefined });
    expect([...tableColumns(db, 'products').keys()]).toEqual(expect.arrayContaining(NEVER_WRITTEN));
    db.close();
  });
});
