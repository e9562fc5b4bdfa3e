/**
 * The purge (issue 16, services/purge.ts): compaction of superseded change-log entries,
 * tombstones removed once every active terminal has pulled past them, terminals that do
 * not hold it back (away, disabled, never seen) told CURSOR_EXPIRED and reading the table
 * again from a snapshot, old push answers, entries of up tables and triggers, its
 * metrics, the admin endpoint, the settings and the interval.
 *
 * Time: deleted rows, answers and positions are moved back by SQL (see purge-helpers.ts)
 * past the default retention of 7 days, and the purge runs at the present.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv } from '../../src/server/config.js';
import type { PurgeReport, PushResponse } from '../../src/shared/protocol.js';
import { ApiClient } from '../helpers/central.js';
import { waitUntil } from '../helpers/processes.js';
import {
  backdateDeletion,
  backdatePosition,
  bumpPrices,
  deleteProducts,
  freshCentral,
  insertProducts,
  liveProducts,
  logEntries,
  PAST_RETENTION,
  rowsThere,
  sorted,
  Till,
  withoutTriggers,
  type Fixture,
} from './purge-helpers.js';

const tag = () => randomBytes(4).toString('hex');
const idsOf = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${prefix}${String(from + i).padStart(4, '0')}`);

/**
 * One central for the file (a fresh one costs seconds). Before each test, the earlier
 * tests' terminals are made silent (seen longer ago than the retention: they no longer
 * hold the purge back) and a purge clears what they left, so each test's report counts
 * only its own rows.
 */
let f: Fixture;
beforeAll(async () => {
  f = await freshCentral();
});
afterAll(async () => {
  await f?.close();
});
beforeEach(async () => {
  await f.c.central.flushPositions();
  await f.c.db.query(`UPDATE sync_pull_positions SET seen_at = now() - interval '${PAST_RETENTION}'`);
  await purgeNow(f);
});

async function purgeNow(f: Fixture): Promise<PurgeReport> {
  const report = await f.c.central.purge.run();
  if (!report) throw new Error('the purge was skipped (lock taken)');
  return report;
}

describe('compaction', () => {
  it('many updates of the same rows leave one log entry per row; terminals behind the removed entries still end with every row as it is now', async () => {
    const prefix = `cmp-${tag()}-`;
    const ids = idsOf(prefix, 40);
    const gone = ids.slice(0, 4);
    const early = new Till(await f.c.provision('s1'), 'Product', 7);
    const middle = new Till(await f.c.provision('s1'), 'Product', 7);

    await insertProducts(f.c.db, ids);
    await early.drain(); // cursor after the inserts, before every update
    for (let round = 0; round < 8; round++) await bumpPrices(f.c.db, ids);
    // One terminal stops in the middle of the updates (a few pages in).
    for (let i = 0; i < 20; i++) await middle.page();
    await deleteProducts(f.c.db, gone); // recent: tombstones stay, their deletion is the row's one entry
    for (let round = 0; round < 3; round++) await bumpPrices(f.c.db, ids.slice(10, 20));

    const before = await logEntries(f.c.db, prefix);
    expect(before.length).toBe(40 + 8 * 40 + 4 + 3 * 10);
    const report = await purgeNow(f);
    const after = await logEntries(f.c.db, prefix);
    // At most one entry per row (and store); every row keeps its newest.
    const perRow = new Map<string, number>();
    for (const e of after) perRow.set(`${e.entity_id}|${e.store_id}`, (perRow.get(`${e.entity_id}|${e.store_id}`) ?? 0) + 1);
    expect([...perRow.values()].filter((n) => n > 1)).toEqual([]);
    expect(after.map((e) => e.entity_id).sort()).toEqual([...ids].sort());
    const versions = await f.c.db.query<{ id: string; v: number }>('SELECT id, sync_version AS v FROM products WHERE id LIKE $1', [`${prefix}%`]);
    const newest = new Map(after.map((e) => [e.entity_id, e.version]));
    for (const r of versions.rows) expect(newest.get(r.id), r.id).toBe(Number(r.v));
    expect(report.removed.compacted).toBe(before.length - after.length);
    expect(report.tables.Product?.compacted).toBe(before.length - after.length);
    expect(report.removed.tombstones).toBe(0); // deleted just now: within the retention

    // Both terminals follow their cursors from before the removed entries to the end.
    const live = await liveProducts(f.c.db, prefix);
    expect(live.size).toBe(36);
    for (const till of [early, middle]) {
      await till.drain();
      expect(till.expired).toBe(0);
      expect(sorted(till.versions(prefix))).toEqual(sorted(live));
      for (const id of ids.slice(10, 20)) expect(till.held.get(id)?.data.price, id).toBe(1 + 8 + 3);
    }
    // A first sync from the log's start (no deletion was purged: no horizon) also brings every row.
    const first = new Till(await f.c.provision('s1'), 'Product', 50);
    await first.drain();
    expect(sorted(first.versions(prefix))).toEqual(sorted(live));
  });

  it('a row that moves between stores keeps at most one entry per store; each store ends right', async () => {
    const id = `cmp-disc-${tag()}`;
    const a = new Till(await f.c.provision('s-a'), 'Discount');
    const b = new Till(await f.c.provision('s-b'), 'Discount');
    await a.drain();
    await b.drain();
    await f.c.db.query(`INSERT INTO discounts (id, store_id, name, kind, value) VALUES ($1, 's-a', 'D', 'percent', 1)`, [id]);
    for (const store of ['s-b', 's-a', 's-b', 's-a', 's-b']) {
      await f.c.db.query('UPDATE discounts SET store_id = $2, value = value + 1 WHERE id = $1', [id, store]);
      await f.c.db.query('UPDATE discounts SET value = value + 1 WHERE id = $1', [id]);
    }
    await purgeNow(f);
    const r = await f.c.db.query<{ store_id: string | null; n: number }>(
      `SELECT store_id, count(*)::int AS n FROM sync_changes WHERE entity_type = 'Discount' AND entity_id = $1 GROUP BY store_id ORDER BY store_id`,
      [id],
    );
    expect(r.rows).toEqual([
      { store_id: 's-a', n: 1 },
      { store_id: 's-b', n: 1 },
    ]);
    await a.drain();
    await b.drain();
    expect(a.held.has(id)).toBe(false); // it is in store s-b now
    expect(b.held.get(id)?.data).toMatchObject({ store_id: 's-b', value: 11 });
  });
});

describe('tombstones', () => {
  it('a row deleted longer ago than the retention is held back by an active terminal behind its deletion, and removed with its entries once it pulls past', async () => {
    const prefix = `tomb-${tag()}-`;
    const ids = idsOf(prefix, 12);
    const old = ids.slice(0, 3);
    const recent = ids.slice(3, 5);
    const ahead = new Till(await f.c.provision('s1'));
    const behind = new Till(await f.c.provision('s1'));

    await ahead.begin();
    await behind.begin();
    await insertProducts(f.c.db, ids);
    await behind.drainAndReport(); // its position: after the inserts, before the deletions
    await deleteProducts(f.c.db, [...old, ...recent]);
    await backdateDeletion(f.c.db, old);
    await insertProducts(f.c.db, [`${prefix}marker`]); // the deletions are not the log's last entries
    await ahead.drainAndReport();

    const held = await purgeNow(f);
    expect(held.removed.tombstones).toBe(0);
    expect(held.tables.Product?.heldBackAt).not.toBeNull();
    expect(await rowsThere(f.c.db, old)).toEqual(old);
    expect((await logEntries(f.c.db, prefix)).filter((e) => e.op === 'DELETE').map((e) => e.entity_id).sort()).toEqual([...old, ...recent].sort());
    // The terminal behind can still read the deletions it has not seen.
    await behind.drainAndReport();
    expect(behind.expired).toBe(0);
    for (const id of [...old, ...recent]) expect(behind.held.has(id), id).toBe(false);
    expect(behind.held.has(`${prefix}marker`)).toBe(true);

    const report = await purgeNow(f);
    expect(report.removed.tombstones).toBe(3);
    expect(report.tables.Product?.tombstones).toBe(3);
    expect(await rowsThere(f.c.db, [...ids, `${prefix}marker`])).toEqual([...ids.slice(3), `${prefix}marker`]); // the recent tombstones and live rows stay
    const entries = await logEntries(f.c.db, prefix);
    expect(entries.filter((e) => old.includes(e.entity_id))).toEqual([]);
    expect(entries.filter((e) => recent.includes(e.entity_id)).map((e) => e.op)).toEqual(['DELETE', 'DELETE']);
    // Both were past the deletions: they pull on without a snapshot, and hold the live rows.
    await insertProducts(f.c.db, [`${prefix}new`]);
    const live = await liveProducts(f.c.db, prefix);
    for (const till of [ahead, behind]) {
      await till.drain();
      expect(till.expired).toBe(0);
      expect(sorted(till.versions(prefix))).toEqual(sorted(live));
    }
    // Once they are old too (and both terminals have pulled on), a purge removes the recent ones.
    await backdateDeletion(f.c.db, recent);
    for (const till of [ahead, behind]) await till.drainAndReport();
    const later = await purgeNow(f);
    expect(later.removed.tombstones).toBe(2);
    expect(await rowsThere(f.c.db, recent)).toEqual([]);
  });

  it('a tombstone whose deletion is the last entry the active terminals have pulled is removed: the entry at a cursor is one the terminal has', async () => {
    const prefix = `tomb-last-${tag()}-`;
    const ids = idsOf(prefix, 3);
    const till = new Till(await f.c.provision('s1'));
    await till.begin();
    await insertProducts(f.c.db, ids);
    await deleteProducts(f.c.db, ids); // one statement: the log's last three entries
    await backdateDeletion(f.c.db, ids);
    await till.drainAndReport(); // its cursor is the last deletion's entry: it has read all three
    for (const id of ids) expect(till.held.has(id), id).toBe(false);
    const report = await purgeNow(f);
    expect(await rowsThere(f.c.db, ids)).toEqual([]);
    expect(report.removed.tombstones).toBe(3);
    // Not held back: the terminal is past the horizon and pulls on.
    await insertProducts(f.c.db, [`${prefix}after`]);
    await till.drain();
    expect(till.expired).toBe(0);
  });

  it('a lastSync pull is expired (or served the deletion) whenever the purge removed a deletion logged at or after its instant, whatever the log order', async () => {
    // Two deletions; the later one in the log (a higher txid) was logged with an earlier
    // time: its transaction started first and wrote last, as concurrent transactions do
    // (changed_at is the transaction's start). The purge removes both.
    const prefix = `tomb-since-${tag()}-`;
    const [x, y] = idsOf(prefix, 2) as [string, string];
    const till = new Till(await f.c.provision('s1'));
    await till.begin();
    await insertProducts(f.c.db, [x, y]);
    await deleteProducts(f.c.db, [x]);
    await deleteProducts(f.c.db, [y]);
    await withoutTriggers(
      f.c.db,
      `UPDATE sync_changes SET changed_at = (SELECT changed_at FROM sync_changes WHERE entity_type = 'Product' AND entity_id = $1 AND op = 'DELETE') - interval '10 seconds'
        WHERE entity_type = 'Product' AND entity_id = $2 AND op = 'DELETE'`,
      [x, y],
    );
    await backdateDeletion(f.c.db, [x, y]);
    await insertProducts(f.c.db, [`${prefix}marker`]);
    await till.drainAndReport();
    const times = await f.c.db.query<{ entity_id: string; at: string }>(
      `SELECT entity_id, changed_at AS at FROM sync_changes WHERE entity_type = 'Product' AND op = 'DELETE' AND entity_id = ANY($1::text[])`,
      [[x, y]],
    );
    const xAt = Date.parse(times.rows.find((r) => r.entity_id === x)?.at as string);
    const report = await purgeNow(f);
    expect(report.removed.tombstones).toBe(2);
    // A terminal that synced (lastSync) just before x's deletion was logged: it holds x, and must learn x is gone.
    const since = new Date(xAt - 1000).toISOString();
    const t = new Till(await f.c.provision('s1'), 'Product', 1000, false);
    const r = await t.get({ lastSync: since, limit: 1000 });
    if (r.status === 200) {
      const served = r.body.changes.find((c) => c.entityId === x);
      expect(served, `lastSync ${since} was served without x's deletion (purged), and not told CURSOR_EXPIRED`).toMatchObject({ deleted: true });
    } else {
      expect(r.status, r.text).toBe(409);
      expect((r.body as unknown as { code: string }).code).toBe('CURSOR_EXPIRED');
    }
  });

  it('a tombstone re-created (undeleted) is a live row again: the purge leaves it and its entry', async () => {
    const id = `tomb-undo-${tag()}`;
    const till = new Till(await f.c.provision('s1'));
    await till.begin();
    await insertProducts(f.c.db, [id]);
    await deleteProducts(f.c.db, [id]);
    await backdateDeletion(f.c.db, [id]);
    await f.c.db.query('UPDATE products SET sync_deleted_at = NULL, price = 7 WHERE id = $1', [id]);
    await insertProducts(f.c.db, [`marker-${id}`]);
    await till.drainAndReport();
    await purgeNow(f);
    expect(await rowsThere(f.c.db, [id])).toEqual([id]);
    expect((await logEntries(f.c.db, id)).map((e) => e.op)).toEqual(['CREATE']);
  });
});

describe('terminals that do not hold the purge back', () => {
  /**
   * A central where `other` pulled the products, then three of them were deleted (longer
   * ago than the retention) while an active terminal pulled past the deletions.
   */
  async function scene(prep: (other: Till) => Promise<void>) {
    const prefix = `away-${tag()}-`;
    const ids = idsOf(prefix, 9);
    const doomed = ids.slice(0, 3);
    const active = new Till(await f.c.provision('s1'));
    const other = new Till(await f.c.provision('s1'), 'Product', 1000, false);
    await active.begin();
    await other.begin();
    await insertProducts(f.c.db, ids);
    await other.drainAndReport();
    await bumpPrices(f.c.db, ids.slice(6)); // more after its cursor
    await deleteProducts(f.c.db, doomed);
    await backdateDeletion(f.c.db, doomed);
    await insertProducts(f.c.db, [`${prefix}marker`]); // the deletions are not the log's last entries
    await active.drainAndReport();
    await f.c.central.flushPositions();
    await prep(other);
    const report = await purgeNow(f);
    return { prefix, ids, doomed, active, other, report };
  }

  /** `till`, whose cursor is behind the purged deletions, is told CURSOR_EXPIRED, reads a snapshot and ends with central's live rows. */
  async function expiresAndRecovers(till: Till, prefix: string, doomed: string[]) {
    const stale = till.cursor;
    const r = await till.page();
    expect(r).toEqual({ status: 409, code: 'CURSOR_EXPIRED' });
    expect(till.cursor).toBe(stale);
    for (const id of doomed) expect(till.held.has(id)).toBe(true); // it never heard of the deletions
    // The snapshot read, a few rows a page: exactly central's live rows, its last page says snapshotEnd.
    const small = new Till(till.t, 'Product', 2);
    small.held.clear();
    for (const [id, c] of till.held) small.held.set(id, c);
    const { brought, pages } = await small.readSnapshot();
    const live = await liveProducts(f.c.db, prefix);
    expect([...brought].filter((id) => id.startsWith(prefix)).sort()).toEqual([...live.keys()].sort());
    expect(brought.size).toBe((await liveProducts(f.c.db, '')).size); // and every other live product
    expect(pages.length).toBe(Math.floor(brought.size / 2) + 1);
    expect(pages.filter((p) => p.snapshotEnd === true).length).toBe(1);
    expect(pages.at(-1)?.snapshotEnd).toBe(true);
    expect(sorted(small.versions(prefix))).toEqual(sorted(live));
    for (const id of doomed) expect(small.held.has(id)).toBe(false); // dropped: the read did not bring them
    // And it pulls on from there.
    await insertProducts(f.c.db, [`${prefix}after`]);
    await bumpPrices(f.c.db, [`${prefix}0008`]);
    await small.drain();
    expect(small.expired).toBe(0);
    expect(sorted(small.versions(prefix))).toEqual(sorted(await liveProducts(f.c.db, prefix)));
  }

  it('a terminal away longer than the retention: the purge goes past it; back, it gets CURSOR_EXPIRED and recovers from a snapshot', async () => {
    const s = await scene(async (other) => backdatePosition(f.c.db, other.t.terminalId, 'Product'));
    expect(s.report.removed.tombstones).toBe(3);
    expect(await rowsThere(f.c.db, s.doomed)).toEqual([]);
    await expiresAndRecovers(s.other, s.prefix, s.doomed);
  });

  it('a disabled terminal: the purge goes past it; enabled again, it gets CURSOR_EXPIRED and recovers from a snapshot', async () => {
    const s = await scene(async (other) => {
      const r = await f.c.admin.patch(`/api/terminals/${other.t.terminalId}`, { disabled: true });
      expect(r.status, r.text).toBe(200);
    });
    expect(s.report.removed.tombstones).toBe(3);
    expect(await rowsThere(f.c.db, s.doomed)).toEqual([]);
    const r = await f.c.admin.patch(`/api/terminals/${s.other.t.terminalId}`, { disabled: false });
    expect(r.status, r.text).toBe(200);
    await expiresAndRecovers(s.other, s.prefix, s.doomed);
  });

  it('a never-seen terminal does not hold it back; its first pull from the log start is CURSOR_EXPIRED, a snapshot start works, and a lastSync pull is served from after the horizon', async () => {
    let never: Till | undefined;
    const s = await scene(async (other) => {
      await backdatePosition(f.c.db, other.t.terminalId, 'Product'); // only the never-seen one is left
      never = new Till(await f.c.provision('s1'), 'Product', 1000, false);
    });
    expect(s.report.removed.tombstones).toBe(3);
    expect(await rowsThere(f.c.db, s.doomed)).toEqual([]);
    const t = never as Till;
    expect(await t.page()).toEqual({ status: 409, code: 'CURSOR_EXPIRED' });
    const horizon = await f.c.db.query<{ changed_at: string }>(`SELECT changed_at FROM sync_purge_horizons WHERE entity_type = 'Product'`);
    const at = Date.parse(horizon.rows[0]?.changed_at as string);
    // lastSync: reads what changed from its instant on. Before the purged deletion: expired; after it: served.
    const before = await t.get({ lastSync: new Date(at - 1000).toISOString(), limit: 100 });
    expect(before.status, before.text).toBe(409);
    expect((before.body as unknown as { code: string }).code).toBe('CURSOR_EXPIRED');
    await bumpPrices(f.c.db, [`${s.prefix}0005`]);
    const after = await t.get({ lastSync: new Date(at + 1).toISOString(), limit: 100 });
    expect(after.status, after.text).toBe(200);
    expect(after.body.changes.map((c) => c.entityId)).toContain(`${s.prefix}0005`);
    // The snapshot start brings exactly the live rows.
    await expiresAndRecoversFromStart(t, s.prefix);
    // The active terminal was never told to start over.
    await s.active.drain();
    expect(s.active.expired).toBe(0);
    expect(sorted(s.active.versions(s.prefix))).toEqual(sorted(await liveProducts(f.c.db, s.prefix)));
  });

  async function expiresAndRecoversFromStart(till: Till, prefix: string) {
    const { brought, pages } = await till.readSnapshot();
    expect(pages.at(-1)?.snapshotEnd).toBe(true);
    expect([...brought].filter((id) => id.startsWith(prefix)).sort()).toEqual([...(await liveProducts(f.c.db, prefix)).keys()].sort());
    await till.drain();
    expect(sorted(till.versions(prefix))).toEqual(sorted(await liveProducts(f.c.db, prefix)));
  }
});

describe('answers, entries of up tables, triggers', () => {
  it('push answers, up-table entries and triggers older than the retention are removed; answers_purged_through is the newest removed answer', async () => {
    const t = await f.c.provision('s1');
    const other = await f.c.provision('s1');
    const productIds = Array.from({ length: 4 }, () => randomUUID());
    const changeIds = productIds.map(() => randomUUID());
    const pushed = await t.api.post<PushResponse>('/api/sync/push', {
      terminalId: t.terminalId,
      changes: productIds.map((id, i) => ({
        changeId: changeIds[i],
        entityType: 'Product',
        entityId: id,
        operation: 'CREATE',
        data: { sku: `SKU-${i}`, name: 'Pushed', price: 2 },
      })),
    });
    expect(pushed.status, pushed.text).toBe(200);
    const orders = [randomUUID(), randomUUID()];
    const orderPush = await t.api.post<PushResponse>('/api/sync/push', {
      terminalId: t.terminalId,
      changes: orders.map((id) => ({
        changeId: randomUUID(),
        entityType: 'SaleOrder',
        entityId: id,
        operation: 'CREATE',
        data: { order_number: `ORD-${id.slice(0, 8)}`, status: 'completed', total: 12.5 },
      })),
    });
    expect(orderPush.status, orderPush.text).toBe(200);
    expect(orderPush.body.summary.applied).toBe(2);
    // Up tables keep no change log since issue 17; an earlier version logged them: its entries stay until the purge.
    expect(await f.c.db.query(`SELECT 1 FROM sync_changes WHERE entity_type = 'SaleOrder'`)).toMatchObject({ rows: [] });
    await f.c.db.query(
      `INSERT INTO sync_changes (entity_type, entity_id, store_id, op, version, origin)
       SELECT 'SaleOrder', id, store_id, 'CREATE', sync_version, sync_origin FROM orders WHERE id = ANY($1::text[]) ORDER BY id`,
      [orders],
    );
    const otherChange = randomUUID();
    const otherPush = await other.api.post<PushResponse>('/api/sync/push', {
      terminalId: other.terminalId,
      changes: [{ changeId: otherChange, entityType: 'Product', entityId: randomUUID(), operation: 'CREATE', data: { sku: 'O', name: 'O', price: 1 } }],
    });
    expect(otherPush.status, otherPush.text).toBe(200);
    for (const who of [t, other]) {
      const trig = await who.api.post('/api/sync/all', { terminalId: who.terminalId, type: 'FULL' });
      expect(trig.status, trig.text).toBe(200);
    }
    const mine = [t.terminalId, other.terminalId];
    const triggers = await f.c.db.query<{ id: string }>('SELECT id FROM sync_triggers WHERE terminal_id = ANY($1::text[]) ORDER BY id', [mine]);
    expect(triggers.rows.length).toBe(2);

    // HQ edits the products since: their answers move off the rows into sync_applied (the orders' stay on theirs).
    const db = f.c.db;
    await db.query(`UPDATE products SET name = 'Seen at HQ' WHERE sync_change_id = ANY($1::text[])`, [[...changeIds, otherChange]]);
    expect(Number((await db.query<{ n: number }>('SELECT count(*) AS n FROM sync_applied WHERE change_id = ANY($1::text[])', [[...changeIds, otherChange]])).rows[0]?.n)).toBe(5);
    // Two of t's answers are old (9 and 8 days), the others recent; the other terminal's answer is old too.
    await db.query(`UPDATE sync_applied SET applied_at = now() - interval '9 days' WHERE change_id = $1`, [changeIds[0]]);
    await db.query(`UPDATE sync_applied SET applied_at = now() - interval '8 days' WHERE change_id = $1`, [changeIds[1]]);
    await db.query(`UPDATE sync_applied SET applied_at = now() - interval '10 days' WHERE change_id = $1`, [otherChange]);
    const through = await db.query<{ at: string }>('SELECT applied_at AS at FROM sync_applied WHERE change_id = $1', [changeIds[1]]);
    // One order's entries are old; the other's recent.
    await db.query(`UPDATE sync_changes SET changed_at = now() - interval '${PAST_RETENTION}' WHERE entity_type = 'SaleOrder' AND entity_id = $1`, [orders[0]]);
    await db.query(`UPDATE sync_triggers SET created_at = now() - interval '${PAST_RETENTION}' WHERE id = $1`, [triggers.rows[0]?.id]);

    const report = await purgeNow(f);
    expect(report.removed).toMatchObject({ answers: 3, unpulled: 1, triggers: 1, tombstones: 0 });
    const answers = await db.query<{ change_id: string }>('SELECT change_id FROM sync_applied WHERE terminal_id = ANY($1::text[])', [
      [t.terminalId, other.terminalId],
    ]);
    expect(answers.rows.map((r) => r.change_id).sort()).toEqual([...changeIds.slice(2)].sort());
    // The answers on rows are the rows' own: they stay as long as the rows hold those changes.
    expect((await db.query<{ c: string }>('SELECT sync_change_id AS c FROM orders WHERE id = ANY($1::text[]) ORDER BY sync_change_id', [orders])).rows.map((r) => r.c)).toEqual(
      orderPush.body.results.map((r) => r.changeId).sort(),
    );
    const terms = await db.query<{ id: string; through: string | null }>(
      'SELECT id, answers_purged_through AS through FROM sync_terminals WHERE id = ANY($1::text[])',
      [[t.terminalId, other.terminalId]],
    );
    const byId = new Map(terms.rows.map((r) => [r.id, r.through]));
    expect(byId.get(t.terminalId)).toBe(through.rows[0]?.at);
    expect(Date.parse(byId.get(other.terminalId) as string)).toBeLessThan(Date.parse(through.rows[0]?.at as string));
    const orderEntries = await db.query<{ entity_id: string }>(`SELECT entity_id FROM sync_changes WHERE entity_type = 'SaleOrder'`);
    expect(orderEntries.rows.map((r) => r.entity_id)).toEqual([orders[1]]);
    expect(await rowsThere(db, orders, 'orders')).toEqual([...orders].sort()); // the sales themselves stay
    expect((await db.query<{ id: string }>('SELECT id FROM sync_triggers WHERE terminal_id = ANY($1::text[])', [mine])).rows.map((r) => r.id)).toEqual([
      triggers.rows[1]?.id,
    ]);

    // A second purge removes nothing more, and never moves answers_purged_through back.
    const again = await purgeNow(f);
    expect(again.removed).toMatchObject({ answers: 0, unpulled: 0, triggers: 0 });
    const t2 = await db.query<{ through: string }>('SELECT answers_purged_through AS through FROM sync_terminals WHERE id = $1', [t.terminalId]);
    expect(t2.rows[0]?.through).toBe(through.rows[0]?.at);
  });
});

describe('metrics and the admin endpoint', () => {
  it('POST /api/admin/purge needs the admin token: a terminal key gets 403, none 401', async () => {
    const t = await f.c.provision('s1');
    const asTerminal = await t.api.post('/api/admin/purge');
    expect(asTerminal.status, asTerminal.text).toBe(403);
    const anonymous = await new ApiClient(f.c.url, undefined).post('/api/admin/purge');
    expect(anonymous.status, anonymous.text).toBe(401);
    const wrong = await new ApiClient(f.c.url, 'not-the-token-0123456789').post('/api/admin/purge');
    expect(wrong.status, wrong.text).toBe(401);
  });

  it('after purges, /metrics counts the runs, what each kind removed (the reports summed) and their duration', async () => {
    const metrics = async () => {
      const m = await new ApiClient(f.c.url, undefined).get('/metrics');
      expect(m.status).toBe(200);
      return (name: string): number => {
        const line = m.text.split('\n').find((l) => l.startsWith(`${name} `));
        if (!line) throw new Error(`no ${name} in:\n${m.text.split('\n').filter((l) => l.includes('purge')).join('\n')}`);
        return Number(line.slice(name.length + 1));
      };
    };
    const was = await metrics(); // the counters so far (earlier tests purged too)
    const prefix = `met-${tag()}-`;
    const ids = idsOf(prefix, 6);
    await insertProducts(f.c.db, ids);
    await bumpPrices(f.c.db, ids);
    await bumpPrices(f.c.db, ids);
    await deleteProducts(f.c.db, ids.slice(0, 2));
    await backdateDeletion(f.c.db, ids.slice(0, 2));
    const t = await f.c.provision('s1');
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId })).status).toBe(200);
    await f.c.db.query(`UPDATE sync_triggers SET created_at = now() - interval '${PAST_RETENTION}'`);
    const first = await f.c.admin.post<PurgeReport>('/api/admin/purge');
    expect(first.status, first.text).toBe(200);
    expect(first.body.removed.compacted).toBe(6 * 3 + 2 - 6); // all but each row's newest entry
    expect(first.body.removed.tombstones).toBe(2);
    expect(first.body.retentionSeconds).toBe(604_800);
    expect(Date.parse(first.body.ranAt) - Date.parse(first.body.cutoff)).toBe(604_800_000);
    await bumpPrices(f.c.db, ids.slice(2));
    const second = await f.c.admin.post<PurgeReport>('/api/admin/purge');
    expect(second.status, second.text).toBe(200);
    expect(second.body.removed.compacted).toBe(4);

    const now = await metrics();
    const delta = (name: string) => now(name) - was(name);
    expect(delta('tillsync_purge_runs_total{outcome="done"}')).toBe(2);
    for (const kind of ['tombstones', 'compacted', 'unpulled', 'answers', 'triggers'] as const) {
      expect(delta(`tillsync_purged_total{kind="${kind}"}`), kind).toBe(first.body.removed[kind] + second.body.removed[kind]);
    }
    expect(first.body.removed.triggers).toBeGreaterThan(0);
    expect(delta('tillsync_purge_duration_seconds_count')).toBe(2);
    const seconds = delta('tillsync_purge_duration_seconds_sum');
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeCloseTo((first.body.ms + second.body.ms) / 1000, 1);
  });
});

describe('settings', () => {
  function errorFor(env: NodeJS.ProcessEnv): string {
    try {
      configFromEnv(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error(`configFromEnv accepted ${JSON.stringify(env)}`);
  }

  it('TILLSYNC_PURGE_INTERVAL (default 3600, 0: only on demand) and TILLSYNC_RETENTION (default 604800) are read', () => {
    expect(configFromEnv({})).toMatchObject({ purgeIntervalSeconds: 3600, retentionSeconds: 604_800 });
    expect(configFromEnv({ TILLSYNC_PURGE_INTERVAL: '0', TILLSYNC_RETENTION: '86400' })).toMatchObject({ purgeIntervalSeconds: 0, retentionSeconds: 86_400 });
    expect(configFromEnv({ TILLSYNC_PURGE_INTERVAL: ' ', TILLSYNC_RETENTION: '' })).toMatchObject({ purgeIntervalSeconds: 3600, retentionSeconds: 604_800 });
  });

  it.each([
    ['TILLSYNC_PURGE_INTERVAL', '-1'],
    ['TILLSYNC_PURGE_INTERVAL', 'hourly'],
    ['TILLSYNC_PURGE_INTERVAL', '1.5'],
    ['TILLSYNC_PURGE_INTERVAL', String(31 * 86_400)],
    ['TILLSYNC_RETENTION', '0'],
    ['TILLSYNC_RETENTION', '-5'],
    ['TILLSYNC_RETENTION', '7d'],
    ['TILLSYNC_RETENTION', String(11 * 365 * 86_400)],
  ])('%s=%s is refused, naming the variable', (name, value) => {
    const message = errorFor({ [name]: value });
    expect(message).toContain(`${name}:`);
    expect(message.split('\n').length).toBe(2); // that one variable only
  });
});

describe('the interval', () => {
  let f: Fixture; // a central of its own: its timer purges
  beforeAll(async () => {
    f = await freshCentral({ purgeIntervalSeconds: 1 });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('a central with TILLSYNC_PURGE_INTERVAL=1 purges on its own: superseded entries go within a few seconds', async () => {
    const id = `int-${tag()}`;
    await insertProducts(f.c.db, [id]);
    await bumpPrices(f.c.db, [id]);
    await bumpPrices(f.c.db, [id]);
    expect((await logEntries(f.c.db, id)).length).toBe(3);
    await waitUntil('the superseded entries purged', async () => (await logEntries(f.c.db, id)).length === 1, { timeout: 8_000 });
    expect((await logEntries(f.c.db, id)).map((e) => e.version)).toEqual([3]);
  });
});
