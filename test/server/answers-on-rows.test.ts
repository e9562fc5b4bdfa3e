/**
 * A plain `applied` answer lives on its row (sync_change_id, sync_change_hash) until the
 * row is written again or removed; then the stamp and soft-delete triggers move it into
 * sync_applied (issue 17). Whatever happened to the row since, a replay of the change
 * gets its first answer and writes nothing: exactly once, as when every answer had a
 * record of its own. Also the status endpoint's counts, which no longer come from
 * sync_applied.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PushResponse } from '../../src/shared/protocol.js';
import { onPostgres } from '../helpers/central.js';
import { holdOpen, lockWaits } from '../helpers/locks.js';
import { waitUntil } from '../helpers/processes.js';
import { answersKept, count, pushOk, rowOf, settled, type ChangeIn } from '../helpers/sync.js';
import { freshCentral, type Fixture } from './purge-helpers.js';

const uid = () => randomUUID();
let f: Fixture;

beforeAll(async () => {
  f = await freshCentral();
});
afterAll(async () => {
  await f?.close();
});

const customer = (id: string, changeId: string, name: string): ChangeIn => ({
  changeId,
  entityType: 'Customer',
  entityId: id,
  operation: 'CREATE',
  data: { name, loyalty_points: 1 },
});

/** Pushes `change` again and expects its first answer back as a duplicate, with nothing written. */
async function replayAnswers(t: Parameters<typeof pushOk>[0], change: ChangeIn, first: PushResponse['results'][number], table: string): Promise<void> {
  const before = await rowOf(f.c, table, change.entityId);
  const answers = await count(f.c, 'sync_applied');
  const again = await pushOk(t, [change]);
  expect(again.results[0]).toEqual({ ...first, status: 'duplicate', originalStatus: 'applied' });
  expect(await rowOf(f.c, table, change.entityId)).toEqual(before);
  expect(await count(f.c, 'sync_applied')).toBe(answers);
}

describe('a replay finds its answer wherever it is', () => {
  it('on the row: nothing else is written for a plain applied change', async () => {
    const t = await f.c.provision('s1');
    const change = customer(uid(), uid(), 'On the row');
    const first = await pushOk(t, [change]);
    expect(first.results[0]).toMatchObject({ status: 'applied', version: 1 });
    expect(await count(f.c, 'sync_applied WHERE change_id = $1', [change.changeId])).toBe(0);
    expect(await rowOf(f.c, 'customers', change.entityId)).toMatchObject({ sync_change_id: change.changeId, sync_version: 1, sync_origin: t.terminalId });
    await replayAnswers(t, change, first.results[0] as PushResponse['results'][number], 'customers');
  });

  it('after HQ wrote the row: the answer moved into sync_applied with its version and time, and the row holds none', async () => {
    const t = await f.c.provision('s1');
    const change = customer(uid(), uid(), 'Before HQ');
    const first = await pushOk(t, [change]);
    const appliedAt = (await rowOf(f.c, 'customers', change.entityId))?.sync_updated_at;
    await f.c.db.query(`UPDATE customers SET name = 'HQ renamed it' WHERE id = $1`, [change.entityId]);
    expect(await rowOf(f.c, 'customers', change.entityId)).toMatchObject({ name: 'HQ renamed it', sync_version: 2, sync_change_id: null, sync_origin: 'central' });
    const moved = await f.c.db.query<{ terminal_id: string; entity_type: string; version: string; applied_at: unknown; result: unknown }>(
      'SELECT terminal_id, entity_type, version, applied_at, result FROM sync_applied WHERE change_id = $1',
      [change.changeId],
    );
    expect(moved.rows).toHaveLength(1);
    expect(moved.rows[0]).toMatchObject({ terminal_id: t.terminalId, entity_type: 'Customer', result: first.results[0] });
    expect(Number(moved.rows[0]?.version)).toBe(1);
    expect(String(moved.rows[0]?.applied_at)).toBe(String(appliedAt));
    await replayAnswers(t, change, first.results[0] as PushResponse['results'][number], 'customers');
  });

  it("after the terminal's next change of the row: each change answered as it first was", async () => {
    const t = await f.c.provision('s1');
    const id = uid();
    const create = customer(id, uid(), 'One');
    const update: ChangeIn = { changeId: uid(), entityType: 'Customer', entityId: id, operation: 'UPDATE', syncVersion: 1, data: { name: 'Two' } };
    const first = await pushOk(t, [create]);
    const second = await pushOk(t, [update]);
    expect(second.results[0]).toMatchObject({ status: 'applied', version: 2 });
    expect(await answersKept(f.c, [create.changeId as string, update.changeId as string])).toBe(2);
    await replayAnswers(t, create, first.results[0] as PushResponse['results'][number], 'customers');
    await replayAnswers(t, update, second.results[0] as PushResponse['results'][number], 'customers');
    expect(await rowOf(f.c, 'customers', id)).toMatchObject({ name: 'Two', sync_version: 2 });
  });

  it("after the purge removed the row's tombstone: the delete's answer leaves with the row as an old answer, so the terminal's replay horizon passes it; the replay brings nothing back", async () => {
    const t = await f.c.provision('s1');
    const id = uid();
    const create: ChangeIn = { changeId: uid(), entityType: 'Product', entityId: id, operation: 'CREATE', data: { sku: `S-${id}`, name: 'Gone soon', price: 1 } };
    const del: ChangeIn = { changeId: uid(), entityType: 'Product', entityId: id, operation: 'DELETE', syncVersion: 1 };
    await pushOk(t, [create]);
    const deleted = await pushOk(t, [del]);
    expect(deleted.results[0]).toMatchObject({ status: 'applied', version: 2 });
    const tombstone = await rowOf(f.c, 'products', id);
    expect(tombstone).toMatchObject({ sync_change_id: del.changeId });
    await settled(f.c);
    const purge = await freshPurge();
    expect(purge.removed.tombstones).toBeGreaterThanOrEqual(1);
    expect(purge.removed.answers).toBeGreaterThanOrEqual(1); // the delete's, moved off the row as it went
    expect(await rowOf(f.c, 'products', id)).toBeUndefined();
    const through = await f.c.db.query<{ at: string }>('SELECT answers_purged_through AS at FROM sync_terminals WHERE id = $1', [t.terminalId]);
    expect(Date.parse(String(through.rows[0]?.at))).toBe(Date.parse(String(tombstone?.sync_updated_at)));
    const again = await pushOk(t, [del]);
    expect(again.results[0]).toMatchObject({ status: 'applied', version: 2 }); // a delete of what is gone, as the first time
    expect(await rowOf(f.c, 'products', id)).toBeUndefined();
  });
});

/** A purge run as if eight days had passed (the retention is seven): every old answer and tombstone is due. */
async function freshPurge() {
  const report = await f.c.central.purge.run({ now: new Date(Date.now() + 8 * 86_400_000) });
  if (!report) throw new Error('the purge was skipped (lock taken)');
  return report;
}

describe('a change id used for two rows', () => {
  it('when both answers move into sync_applied, the one that cannot be kept moves its terminal past it: a replay is never applied again, even after the purge', async () => {
    const t1 = await f.c.provision('s1');
    const t2 = await f.c.provision('s2');
    const x = uid();
    const a: ChangeIn = { changeId: x, entityType: 'SaleOrder', entityId: uid(), operation: 'CREATE', data: { order_number: 'A', status: 'completed', total: 10 } };
    const b: ChangeIn = { changeId: x, entityType: 'SaleOrder', entityId: uid(), operation: 'CREATE', data: { order_number: 'B', status: 'completed' } };
    expect((await pushOk(t1, [a])).results[0]).toMatchObject({ status: 'applied' });
    expect((await pushOk(t2, [b])).results[0]).toMatchObject({ status: 'applied' }); // its answer is on A's row: not seen
    await f.c.db.query(`UPDATE orders SET notes = 'hq' WHERE id = $1`, [b.entityId]);
    await f.c.db.query(`UPDATE orders SET status = 'refunded', total = 0 WHERE id = $1`, [a.entityId]);
    const kept = await f.c.db.query<{ terminal_id: string }>('SELECT terminal_id FROM sync_applied WHERE change_id = $1', [x]);
    expect(kept.rows.map((r) => r.terminal_id)).toEqual([t2.terminalId]);
    const through = await f.c.db.query<{ at: string | null }>('SELECT answers_purged_through AS at FROM sync_terminals WHERE id = $1', [t1.terminalId]);
    expect(through.rows[0]?.at).not.toBeNull();
    // Within the retention the id is found as the other terminal's: refused, nothing written.
    expect((await pushOk(t1, [a])).results[0]).toMatchObject({ status: 'rejected', error: { code: 'CHANGE_ID_TAKEN' } });
    await freshPurge();
    // After the purge: judged as a possible replay, central keeps HQ's refund.
    expect((await pushOk(t1, [a])).results[0]?.status).not.toBe('applied');
    expect(await rowOf(f.c, 'orders', a.entityId)).toMatchObject({ status: 'refunded', total: 0 });
  });
});

describe.runIf(onPostgres)('a replay racing with a write that moves its answer (PostgreSQL)', () => {
  it('the replay, which waited for the row and read no answer on it, still answers a duplicate and writes nothing (its answer insert meets the moved one)', async () => {
    const t = await f.c.provision('s1');
    const change = customer(uid(), uid(), 'Raced');
    const first = await pushOk(t, [change]);
    // HQ's transaction writes the row (moving the answer into sync_applied) and stays open.
    const hq = await holdOpen(f.c.db, (tx) => tx.query(`UPDATE customers SET name = 'HQ meanwhile' WHERE id = $1`, [change.entityId]));
    // The replay reads (its snapshot cannot see HQ's move) and waits for the row's lock.
    const replay = pushOk(t, [change]);
    await waitUntil('the replay to wait for the row', async () => (await lockWaits(f.c.db)) > 0, { timeout: 10_000 });
    hq.release();
    await hq.done;
    const again = await replay;
    expect(again.results[0]).toEqual({ ...first.results[0], status: 'duplicate', originalStatus: 'applied' });
    expect(await rowOf(f.c, 'customers', change.entityId)).toMatchObject({ name: 'HQ meanwhile', sync_version: 2, sync_change_id: null });
    expect(await count(f.c, 'sync_conflicts WHERE change_id = $1', [change.changeId])).toBe(0);
  });

  it('a replay racing HQ moving its row to another store answers a duplicate, not FORBIDDEN_STORE (the refusal is checked against the answers committed meanwhile)', async () => {
    const t = await f.c.provision('s1');
    await f.c.provision('s2');
    const order: ChangeIn = { changeId: uid(), entityType: 'SaleOrder', entityId: uid(), operation: 'CREATE', data: { order_number: `MOVED-${uid()}`, status: 'completed' } };
    const first = await pushOk(t, [order]);
    expect(first.results[0]).toMatchObject({ status: 'applied', version: 1 });
    // HQ's transaction moves the order to store s2 (moving its answer into sync_applied) and stays open.
    const hq = await holdOpen(f.c.db, (tx) => tx.query(`UPDATE orders SET store_id = 's2' WHERE id = $1`, [order.entityId]));
    const replay = pushOk(t, [order]);
    await waitUntil('the replay to wait for the row', async () => (await lockWaits(f.c.db)) > 0, { timeout: 10_000 });
    hq.release();
    await hq.done;
    const again = await replay;
    expect(again.results[0]).toEqual({ ...first.results[0], status: 'duplicate', originalStatus: 'applied' });
    expect(await rowOf(f.c, 'orders', order.entityId)).toMatchObject({ store_id: 's2', sync_version: 2 });
  });
});

describe('the status endpoint counts what central accepted', () => {
  it("synced counts each accepted change once, wherever its answer lives, and the purge of old answers does not lower it", async () => {
    const t = await f.c.provision('s2');
    const ids = [uid(), uid(), uid()];
    const changes = ids.map((id) => customer(id, uid(), 'Counted'));
    await pushOk(t, changes);
    await pushOk(t, changes); // replays: not counted again
    await pushOk(t, [{ changeId: uid(), entityType: 'Customer', entityId: ids[0] as string, operation: 'UPDATE', syncVersion: 1, data: { name: 'Again' } }]);
    const synced = async () => {
      const r = await t.api.get<{ tables: Record<string, { synced: number }> }>('/api/sync/status', { terminalId: t.terminalId });
      expect(r.status, r.text).toBe(200);
      return r.body.tables.Customer?.synced;
    };
    expect(await synced()).toBe(4);
    // The answers moved into sync_applied grow old and are purged: still 4.
    await f.c.db.query(`UPDATE customers SET notes = 'HQ' WHERE id = ANY($1::text[])`, [ids]);
    const purge = await freshPurge();
    expect(purge.removed.answers).toBeGreaterThanOrEqual(4);
    expect(await synced()).toBe(4);
  });
});
