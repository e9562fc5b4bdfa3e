/**
 * One id scheme for what the terminal mints: a row's central id and every outbox
 * entry's change id are time-ordered UUIDs (version 7), whichever path queued it (the
 * capture log, an explicit enqueue, a bootstrap of a legacy database).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/main/sync/bootstrap.js';
import { LocalStore } from '../../src/main/sync/store/index.js';

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the id scheme of what the terminal mints', () => {
  it('captured, enqueued and bootstrapped rows all get uuid7 central ids and change ids', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-ids-'));
    dirs.push(dir);
    const path = join(dir, 'pos.db');
    const store = new LocalStore(path, 'till-ids', { create: true });
    // Legacy rows written around the triggers (capture off), as an old POS database holds them.
    const legacy = store.base.applying(() => Number(store.base.db.prepare(`INSERT INTO customers (name) VALUES ('legacy')`).run().lastInsertRowid));
    const byHand = store.base.applying(() => Number(store.base.db.prepare(`INSERT INTO customers (name) VALUES ('by hand')`).run().lastInsertRowid));
    // A row the POS writes through its own connection (captured).
    const pos = new Database(path);
    const captured = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('captured')`).run().lastInsertRowid);
    pos.close();

    store.capture.enqueue('customers', byHand, 'CREATE');
    expect(bootstrap(store).queued).toEqual({ customers: 1 });

    const entries = store.base.db.prepare(`SELECT local_id, server_id, change_id FROM tillsync_outbox ORDER BY id`).all() as {
      local_id: number;
      server_id: string;
      change_id: string;
    }[];
    expect(entries.map((e) => e.local_id).sort()).toEqual([legacy, byHand, captured].sort());
    for (const e of entries) {
      expect(e.server_id, `central id of row ${e.local_id}`).toMatch(UUID7);
      expect(e.change_id, `change id of row ${e.local_id}`).toMatch(UUID7);
    }
    store.close();
  });
});
