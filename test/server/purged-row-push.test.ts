/**
 * A terminal's change to a row central deleted and whose tombstone the purge has since
 * removed is judged against that deletion by the table's strategy, as it was while the
 * tombstone was kept: for a table where central wins the deletion stands (an old edit
 * from a till that was away never brings the row back). Real central, real database
 * (PGlite, or PostgreSQL with TEST_DATABASE_URL), over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatHlc } from '../../src/shared/hlc.js';
import type { PushResult } from '../../src/shared/protocol.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { pushOk, rowOf, settled, type Row } from '../helpers/sync.js';

const c = useCentral();
let t: ProvisionedTerminal;
const DAY = 86_400_000;
const STORE = `purged-${randomUUID().slice(0, 6)}`;

beforeAll(async () => {
  t = await c.provision(STORE);
});

const only = (r: { results: PushResult[] }): PushResult => r.results[0] as PushResult;
const now = () => formatHlc({ physical: Date.now(), counter: 0, node: 'till' });

/** HQ creates a row, the till has it at version 1, HQ deletes it, and a retention later the purge removes the tombstone. */
async function purgedRow(table: string, insert: string, params: unknown[]): Promise<void> {
  await c.db.query(insert, params);
  await c.db.query(`DELETE FROM ${table} WHERE id = $1`, [params[0]]);
  // The purge removes only what is below every running transaction, on the whole server
  // (other test files run their own transactions on it): wait for the deletion to be.
  await settled(c);
  const report = await c.central.purge.run({ now: new Date(Date.now() + c.central.config.retentionSeconds * 1000 + DAY) });
  expect(report?.removed.tombstones).toBeGreaterThan(0);
  expect(await rowOf(c, table, params[0] as string)).toBeUndefined();
  // A till of the store whose own answers were not purged (a change of one whose answers
  // were, made before them, is judged as a possible replay: replay-after-purge.test.ts).
  t = await c.provision(STORE);
}

describe("a till's change to a row whose tombstone was purged", () => {
  it('CENTRAL_WINS (products): the deletion stands and the till is told to delete its copy', async () => {
    const id = randomUUID();
    await purgedRow('products', `INSERT INTO products (id, sku, name, price) VALUES ($1, 'PG-1', 'Gone', 3)`, [id]);
    const base: Row = { id, sku: 'PG-1', name: 'Gone', price: 3 };
    const r = only(
      await pushOk(t, [{ changeId: randomUUID(), entityType: 'Product', entityId: id, operation: 'UPDATE', data: { ...base, name: 'Renamed at the till' }, baseData: base, syncVersion: 1, hlc: now() }]),
    );
    expect(r).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', data: { id, _deleted: true } });
    expect(await rowOf(c, 'products', id)).toBeUndefined();
  });

  it('MERGE (customers): merged with the deleted row as the strategy says, and written', async () => {
    const id = randomUUID();
    await purgedRow('customers', `INSERT INTO customers (id, name, loyalty_points) VALUES ($1, 'Ada', 100)`, [id]);
    const base: Row = { id, name: 'Ada', loyalty_points: 100 };
    const r = only(
      await pushOk(t, [{ changeId: randomUUID(), entityType: 'Customer', entityId: id, operation: 'UPDATE', data: { ...base, loyalty_points: 110 }, baseData: base, syncVersion: 1, hlc: now() }]),
    );
    expect(r, JSON.stringify(r)).toMatchObject({ status: "conflict", resolution: "MERGED" });
    expect(await rowOf(c, 'customers', id)).toMatchObject({ name: 'Ada', loyalty_points: 110, sync_deleted_at: null });
  });

  it('MANUAL_MERGE (purchase orders): parked for a supervisor; deciding for central keeps it deleted', async () => {
    const id = randomUUID();
    await purgedRow('purchase_orders', `INSERT INTO purchase_orders (id, store_id, status, notes) VALUES ($1, $2, 'draft', 'hq')`, [id, t.storeId]);
    const base: Row = { id, store_id: t.storeId, status: 'draft', notes: 'hq' };
    const r = only(
      await pushOk(t, [{ changeId: randomUUID(), entityType: 'PurchaseOrder', entityId: id, operation: 'UPDATE', data: { ...base, notes: 'till' }, baseData: base, syncVersion: 1, hlc: now() }]),
    );
    expect(r).toMatchObject({ status: 'conflict', resolution: 'PARKED' });
    expect(await rowOf(c, 'purchase_orders', id)).toBeUndefined();
    const resolved = await c.admin.post('/api/sync/resolve', { conflictId: r.conflictId, resolution: 'CENTRAL_WINS' });
    expect(resolved.status, resolved.text).toBe(200);
    expect(resolved.body).toMatchObject({ deleted: true });
    const row = await rowOf(c, 'purchase_orders', id);
    expect(row === undefined || row.sync_deleted_at !== null).toBe(true);
  });

  it('with no purge of the table (a row missing for another reason, e.g. a database restored from a backup), the change writes the row as before', async () => {
    const id = randomUUID();
    // Settings: nothing of them has been purged in this file.
    const r = only(
      await pushOk(t, [{ changeId: randomUUID(), entityType: 'Setting', entityId: id, operation: 'UPDATE', data: { store_id: t.storeId, key: 'k', value: 'v' }, syncVersion: 4, hlc: now() }]),
    );
    expect(r, JSON.stringify(r)).toMatchObject({ status: "applied", version: 1 });
    expect(await rowOf(c, 'settings', id)).toMatchObject({ value: 'v', sync_deleted_at: null });
  });
});
