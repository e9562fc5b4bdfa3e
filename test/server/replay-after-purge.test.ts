/**
 * A batch replayed after the purge removed its answers (sync_applied) is still never
 * applied twice, whatever the table's conflict strategy: the row's version says
 * whether the change may already be in it. Real central, real database (PGlite, or
 * PostgreSQL with TEST_DATABASE_URL), over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatHlc } from '../../src/shared/hlc.js';
import type { PushResult } from '../../src/shared/protocol.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { count, pushOk, rowOf, settled, type ChangeIn, type Row } from '../helpers/sync.js';

const c = useCentral();
let t: ProvisionedTerminal;
const DAY = 86_400_000;
/** When the replayed changes were made: before their answers (backdated to 8 days ago) were purged. */
const T0 = () => Date.now() - 9 * DAY;

beforeAll(async () => {
  t = await c.provision(`replay-${randomUUID().slice(0, 6)}`);
});

/** A change's clock reading `ms` (this terminal's, counter 0). */
const hlcAt = (ms: number) => formatHlc({ physical: ms, counter: 0, node: 'replay-node' });
const only = (r: { results: PushResult[] }): PushResult => r.results[0] as PushResult;

/** One table per strategy, with a full row image and a second one. */
const TABLES: { strategy: string; entityType: string; table: string; first: (s: string) => Row; second: Row }[] = [
  { strategy: 'CENTRAL_WINS', entityType: 'Product', table: 'products', first: () => ({ sku: 'R-1', name: 'Kettle', price: 10 }), second: { sku: 'R-1', name: 'Kettle', price: 12 } },
  { strategy: 'MERGE', entityType: 'Customer', table: 'customers', first: () => ({ name: 'Ada', loyalty_points: 10 }), second: { name: 'Ada', loyalty_points: 25 } },
  { strategy: 'MANUAL_MERGE', entityType: 'PurchaseOrder', table: 'purchase_orders', first: (s) => ({ store_id: s, status: 'draft', notes: 'first' }), second: { status: 'ordered', notes: 'second' } },
  { strategy: 'LAST_WRITE_WINS', entityType: 'Setting', table: 'settings', first: (s) => ({ store_id: s, key: 'receipt.footer', value: 'first' }), second: { key: 'receipt.footer', value: 'second' } },
  { strategy: 'TERMINAL_WINS', entityType: 'SaleOrder', table: 'orders', first: () => ({ order_number: 'ORD-R', status: 'pending', total: 10 }), second: { order_number: 'ORD-R', status: 'completed', total: 10 } },
];

/**
 * As if every answer kept so far had been given eight days ago (the changes were made
 * nine days ago: see T0) and a purge ran now: they are older than the retention (7 days).
 */
async function purgeAnswers(opts: { tombstones?: boolean } = {}): Promise<void> {
  await c.db.query(`UPDATE sync_applied SET applied_at = now() - interval '8 days' WHERE terminal_id = $1`, [t.terminalId]);
  // Tombstones go only once below every running transaction on the server (other test files run theirs).
  if (opts.tombstones) await settled(c);
  // Tombstones are dated by the row's own trigger: the purge is run a retention later instead.
  const now = opts.tombstones ? new Date(Date.now() + c.central.config.retentionSeconds * 1000 + DAY) : new Date();
  const report = await c.central.purge.run({ now });
  expect(report?.removed.answers).toBeGreaterThan(0);
  expect(await count(c, 'sync_applied WHERE terminal_id = $1', [t.terminalId])).toBe(0);
}

describe.each(TABLES)('$strategy ($entityType): a batch replayed after its answers were purged', ({ entityType, table, first, second }) => {
  it('is not applied again: the row keeps the later change, and the terminal is handed central\'s row', async () => {
    const id = randomUUID();
    const t0 = T0();
    const create: ChangeIn = { changeId: randomUUID(), entityType, entityId: id, operation: 'CREATE', data: first(t.storeId), hlc: hlcAt(t0) };
    const a: ChangeIn = { changeId: randomUUID(), entityType, entityId: id, operation: 'UPDATE', data: second, syncVersion: 1, hlc: hlcAt(t0 + 1000) };
    expect(only(await pushOk(t, [create]))).toMatchObject({ status: 'applied', version: 1 });
    expect(only(await pushOk(t, [a]))).toMatchObject({ status: 'applied', version: 2 });
    // A later change of the same terminal's moves the row on.
    const later: ChangeIn = { changeId: randomUUID(), entityType, entityId: id, operation: 'UPDATE', data: { ...second, ...(table === 'customers' ? { loyalty_points: 40 } : { notes: undefined }) }, syncVersion: 2, hlc: hlcAt(t0 + 2000) };
    if (table === 'products') later.data = { ...second, price: 15 };
    if (table === 'settings') later.data = { key: 'receipt.footer', value: 'third' };
    if (table === 'orders') later.data = { ...second, status: 'refunded' };
    if (table === 'purchase_orders') later.data = { status: 'received', notes: 'third' };
    expect(only(await pushOk(t, [later]))).toMatchObject({ status: 'applied', version: 3 });
    const before = await rowOf(c, table, id);

    // Within the retention a replay is a duplicate, answered from the record.
    expect(only(await pushOk(t, [a]))).toMatchObject({ status: 'duplicate', originalStatus: 'applied' });

    await purgeAnswers();
    const replay = await pushOk(t, [create, a]);
    for (const r of replay.results) {
      expect(r).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', version: 3 });
      expect(r.data).toMatchObject({ id });
    }
    // Nothing written: the row is as the later change left it (same version, same image).
    expect(await rowOf(c, table, id)).toEqual(before);
  });

  it('a change made before the purge that the row proves was never applied still is; a new one is decided as always', async () => {
    const id = randomUUID();
    const t0 = T0();
    expect(only(await pushOk(t, [{ changeId: randomUUID(), entityType, entityId: id, operation: 'CREATE', data: first(t.storeId), hlc: hlcAt(t0) }]))).toMatchObject({
      status: 'applied',
      version: 1,
    });
    // That create's answer stays on its row; a row of its own gives the purge an answer of
    // this terminal's to remove (its create's answer, moved into sync_applied by its update).
    const other = randomUUID();
    await pushOk(t, [{ changeId: randomUUID(), entityType, entityId: other, operation: 'CREATE', data: first(t.storeId), hlc: hlcAt(t0) }]);
    await pushOk(t, [{ changeId: randomUUID(), entityType, entityId: other, operation: 'UPDATE', data: second, syncVersion: 1, hlc: hlcAt(t0 + 500) }]);
    await purgeAnswers();
    // Made before the newest purged answer (it waited at the till), built on the row's version: applied.
    const waited: ChangeIn = { changeId: randomUUID(), entityType, entityId: id, operation: 'UPDATE', data: second, syncVersion: 1, hlc: hlcAt(t0 + 1000) };
    expect(only(await pushOk(t, [waited]))).toMatchObject({ status: 'applied', version: 2 });
    expect(await rowOf(c, table, id)).toMatchObject({ sync_version: 2 });
    // A change made from now on, on a stale version, meets the table's strategy as always.
    const stale: ChangeIn = { changeId: randomUUID(), entityType, entityId: id, operation: 'UPDATE', data: second, syncVersion: 1, hlc: hlcAt(Date.now() + 1000) };
    const r = only(await pushOk(t, [stale]));
    expect(r.status).toBe('conflict');
    const expected: Record<string, string> = { products: 'CENTRAL_WINS', customers: 'MERGED', purchase_orders: 'PARKED', settings: 'TERMINAL_WINS', orders: 'TERMINAL_WINS' };
    expect(r.resolution).toBe(expected[table]);
  });
});

describe('a replayed change to a row deleted and purged meanwhile', () => {
  it('does not bring the row back: the terminal is told it is deleted', async () => {
    const id = randomUUID();
    const t0 = T0();
    await pushOk(t, [{ changeId: randomUUID(), entityType: 'Product', entityId: id, operation: 'CREATE', data: { sku: 'GONE', name: 'Gone', price: 1 }, hlc: hlcAt(t0) }]);
    const a: ChangeIn = { changeId: randomUUID(), entityType: 'Product', entityId: id, operation: 'UPDATE', data: { sku: 'GONE', name: 'Gone', price: 2 }, syncVersion: 1, hlc: hlcAt(t0 + 1000) };
    expect(only(await pushOk(t, [a]))).toMatchObject({ status: 'applied', version: 2 });
    await c.db.query('DELETE FROM products WHERE id = $1', [id]); // HQ deletes it
    await purgeAnswers({ tombstones: true }); // and, a retention later, the purge removes the tombstone
    expect(await rowOf(c, 'products', id)).toBeUndefined();
    const r = only(await pushOk(t, [a]));
    expect(r).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', data: { id, _deleted: true } });
    expect(await rowOf(c, 'products', id)).toBeUndefined();
  });
});
