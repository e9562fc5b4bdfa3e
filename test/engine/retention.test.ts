import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { LocalStore } from '../../src/main/sync/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tillsync-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('synced outbox entries are purged after the retention period; pending, failed and parked ones never are', () => {
  const store = new LocalStore(join(dir, 'pos.db'), 'retention-t', { create: true });
  try {
    const insert = store.base.db.prepare(`INSERT INTO customers (name) VALUES (?)`);
    for (let i = 0; i < 8; i++) insert.run(`c${i}`);
    store.capture.promote();
    const ids = (store.base.db.prepare('SELECT id FROM tillsync_outbox ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    expect(ids).toHaveLength(8);
    const old = new Date(Date.now() - 10 * 24 * 3600_000).toISOString();
    const recent = new Date(Date.now() - 3600_000).toISOString();
    const set = store.base.db.prepare('UPDATE tillsync_outbox SET status = ?, synced_at = ? WHERE id = ?');
    set.run('synced', old, ids[0]);
    set.run('synced', old, ids[1]);
    set.run('synced', recent, ids[2]);
    set.run('failed', null, ids[3]);
    set.run('conflict', null, ids[4]);
    store.base.db.prepare('UPDATE tillsync_outbox SET created_at = ? WHERE id IN (?, ?, ?)').run(old, ids[3], ids[4], ids[5]);

    expect(store.outbox.purgeSynced(7 * 24 * 3600_000)).toBe(2);
    const left = store.base.db.prepare('SELECT id, status FROM tillsync_outbox ORDER BY id').all() as { id: number; status: string }[];
    expect(left.map((r) => r.id)).toEqual(ids.slice(2));
    expect(left.map((r) => r.status)).toEqual(['synced', 'failed', 'conflict', 'pending', 'pending', 'pending']);
  } finally {
    store.close();
  }
});
