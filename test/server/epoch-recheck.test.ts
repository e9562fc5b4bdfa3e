/**
 * The restore generation while central runs (services/epoch.ts, restore-route.ts): a
 * standby promoted under a running instance (its timeline moves without a restart)
 * moves the epoch within TILLSYNC_RESTORE_CHECK_INTERVAL, and asks the tills to sync;
 * and a missing sync_epoch row (a partial restore, a TRUNCATE) is made again rather
 * than failing the check or the admin's call. A timeline cannot be moved here, so the
 * row, as a restore would bring it back, names another one (as the start-up test in
 * test/engine/central-restored.test.ts does).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startCentral, testDatabase, type TestCentral, type TestDatabase } from '../helpers/central.js';

interface Restored {
  epoch: number;
  reason: string | null;
  timeline: number | null;
  moved?: boolean;
}

let t: TestDatabase | undefined;
let c: TestCentral | undefined;
afterEach(async () => {
  await c?.close();
  await t?.close();
  c = undefined;
  t = undefined;
});

const restored = async (central: TestCentral) => (await central.admin.get<Restored>('/api/admin/restored')).body;

describe('the restore generation while central runs', () => {
  it('another timeline seen by a running instance moves the epoch once, within the check interval', async () => {
    t = await testDatabase();
    c = await startCentral({ db: t.db, config: { restoreCheckIntervalSeconds: 1 } });
    const before = await restored(c);
    expect(before.epoch).toBe(0);
    expect(before.timeline).toBeGreaterThanOrEqual(1);

    await t.db.query('UPDATE sync_epoch SET timeline = timeline + 1');
    await expect.poll(async () => (await restored(c as TestCentral)).epoch, { timeout: 15_000, interval: 250 }).toBeGreaterThan(0);
    const after = await restored(c);
    expect(after.reason).toBe('detected');
    expect(after.timeline).toBe(before.timeline); // the live one is kept again
    // Once: later checks see the identity they kept.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await restored(c)).epoch).toBe(after.epoch);
  });

  it('a missing epoch row is made again: the check goes on, the admin call answers', async () => {
    t = await testDatabase();
    c = await startCentral({ db: t.db, config: { restoreCheckIntervalSeconds: 1 } });
    await t.db.query('DELETE FROM sync_epoch');
    expect((await restored(c)).epoch).toBe(0);
    const marked = await c.admin.post<Restored>('/api/admin/restored', { restoreId: 'partial restore' });
    expect(marked.status).toBe(200);
    expect(marked.body.moved).toBe(true);
    expect(marked.body.epoch).toBeGreaterThan(0);
    const rows = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_epoch');
    expect(Number(rows.rows[0]?.n)).toBe(1);
  });

  it('a till that does not say it knows CENTRAL_RESTORED (an older engine) is told CURSOR_EXPIRED, which it acts on', async () => {
    t = await testDatabase();
    c = await startCentral({ db: t.db });
    const till = await c.provision('store-restore', 'till-old');
    const first = await till.api.get<{ cursor: string }>('/api/sync/pull', { terminalId: till.terminalId, entityType: 'Product' });
    expect(first.status).toBe(200);
    const cursor = first.body.cursor;
    expect(typeof cursor).toBe('string');
    expect((await c.admin.post('/api/admin/restored', { restoreId: 'older engines' })).status).toBe(200);

    const old = await till.api.get<{ code: string }>('/api/sync/pull', { terminalId: till.terminalId, entityType: 'Product', cursor });
    expect(old.status).toBe(409);
    expect(old.body.code).toBe('CURSOR_EXPIRED');
    const knowing = await till.api.get<{ code: string; epoch: number }>('/api/sync/pull', { terminalId: till.terminalId, entityType: 'Product', cursor, knows: 'CENTRAL_RESTORED' });
    expect(knowing.status).toBe(409);
    expect(knowing.body.code).toBe('CENTRAL_RESTORED');
    expect(knowing.body.epoch).toBeGreaterThan(0);
    // Anything else in `knows` is refused, and changes nothing.
    expect((await till.api.get('/api/sync/pull', { terminalId: till.terminalId, entityType: 'Product', cursor, knows: 'EVERYTHING' })).status).toBe(400);
  });
});
