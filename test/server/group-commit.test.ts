/**
 * Group commit of pushes at central (issue 17), on the real database (PGlite, or
 * PostgreSQL with TEST_DATABASE_URL). Pushes that arrive while the push transaction is
 * busy share the next one; each terminal still gets its own answers and its own
 * writer's identity:
 *
 * a. Twelve terminals in two stores push sales at once, with one push transaction at a
 *    time: every change is applied; rows of different terminals were committed by one
 *    transaction (one xmin), each stamped with the terminal that pushed it; each
 *    terminal's replay is answered duplicate with the same versions and writes
 *    nothing; central's accepted counts are per terminal; the group-size metric saw a
 *    group of more than one. With TILLSYNC_PUSH_GROUP_MAX 1, the same load commits
 *    each terminal's rows in a transaction of its own.
 * b. In one group, A updates a customer B created and B creates another: each row,
 *    change-log entry, announcement and pulled change carries its own writer, so A's
 *    pull serves its own change at the version its push was answered (the terminal
 *    skips it: no echo) and B's change as B's.
 * c. A push that the database refuses (a test trigger raises on one order) fails alone:
 *    it gets a 500, nothing of it is written, and every other push of its group is
 *    applied, each re-run in a transaction of its own.
 * d. Back-office SQL cannot claim a terminal's identity by writing sync_origin, and a
 *    write of sync_origin alone is no change; the push's marker '*row*' is not a
 *    secret (SQL that sets it can stamp any writer, as SQL setting tillsync.origin to
 *    a terminal id always could).
 * e. One terminal's open conflict on a row does not catch another terminal's change of
 *    that row when both push in one group: it is answered as it is when pushed alone.
 *
 * To make pushes share a group, the test holds the first push's transaction at its
 * read (a view of the Database), sends the others, and lets it go once central has
 * received all of them: they wait in the queue meanwhile.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfigInput } from '../../src/server/config.js';
import type { Database, Queryable } from '../../src/server/db/database.js';
import { CHANGES_CHANNEL } from '../../src/server/db/migrate.js';
import type { PushResponse, PushResult } from '../../src/shared/protocol.js';
import { onPostgres, startCentral, testDatabase, type HttpResult, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { holdOpen, lockWaits } from '../helpers/locks.js';
import { waitUntil } from '../helpers/processes.js';
import { answersKept, count, pullAll, push, pushOk, rowOf, type ChangeIn, type Row } from '../helpers/sync.js';

const uid = () => randomUUID();
const tag = () => randomBytes(3).toString('hex');

/** The push's read statement (push-statements.ts readBatch): the first statement of its transaction. */
const PUSH_READ = "set_config('tillsync.origin'";

/**
 * A view of the Database that can hold the next push transaction at its read (before
 * it reads or locks anything), until released: meanwhile the push transactions are
 * busy, and pushes that arrive wait in central's queue.
 */
class Gate {
  private next: { held: () => void; release: Promise<void> } | undefined;

  constructor(private readonly inner: Database) {}

  /** The next push transaction waits at its read for `release`; resolves once one does. */
  holdNextPush(release: Promise<void>): Promise<void> {
    return new Promise((held) => {
      this.next = { held, release };
    });
  }

  get db(): Database {
    const inner = this.inner;
    return {
      ...inner,
      transaction: <T,>(fn: (tx: Queryable) => Promise<T>) =>
        inner.transaction((tx) =>
          fn({
            query: async <R extends object>(text: string, params?: readonly unknown[]) => {
              const hold = this.next;
              if (hold && text.includes(PUSH_READ)) {
                this.next = undefined;
                hold.held();
                await hold.release;
              }
              return tx.query<R>(text, params);
            },
          }),
        ),
      close: async () => undefined,
    };
  }
}

interface Fixture {
  readonly td: TestDatabase;
  readonly c: TestCentral;
  readonly gate: Gate;
  /** Push requests whose body central has read (counted as each ends). */
  received(): number;
  close(): Promise<void>;
}

/** A central of its own on a fresh database, behind a Gate, with one push transaction at a time. */
async function groupingCentral(config: Partial<ServerConfigInput> = {}): Promise<Fixture> {
  const td = await testDatabase();
  const gate = new Gate(td.db);
  const c = await startCentral({
    db: gate.db,
    // Keys stay cached through a test: a push then touches the database only in its transaction.
    // A held transaction never counts as stalled here: the pushes sent meanwhile must wait for it.
    config: { purgeIntervalSeconds: 0, authCacheTtlMs: 60_000, pushTransactions: 1, pushStallMs: 60_000, ...config },
  });
  let received = 0;
  c.central.app.server.on('request', (req: IncomingMessage) => {
    if (req.method === 'POST' && req.url?.startsWith('/api/sync/push')) req.on('end', () => received++);
  });
  return {
    td,
    c,
    gate,
    received: () => received,
    async close() {
      await c.close();
      await td.close();
    },
  };
}

type Send = readonly [ProvisionedTerminal, ChangeIn[]];

/**
 * Sends `blocker`'s push and holds its transaction at its read; sends every push of
 * `sends` at once meanwhile; once central has read all their bodies (and a few turns
 * of its event loop have passed, for them to reach the queue), lets the blocker go.
 * The pushes waiting then form the next group(s). Returns the answers of `sends`.
 */
async function together(f: Fixture, blocker: Send, sends: readonly Send[]): Promise<HttpResult<PushResponse>[]> {
  // Each key is known (cached) before the transaction is held: no push waits for an auth query.
  for (const [t] of [blocker, ...sends]) {
    const r = await t.api.get('/api/sync/status', { terminalId: t.terminalId });
    expect(r.status, r.text).toBe(200);
  }
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const held = f.gate.holdNextPush(released);
  const base = f.received();
  const first = pushOk(blocker[0], blocker[1]);
  try {
    await Promise.race([held, first.then(() => Promise.reject(new Error('the blocker finished without being held')))]);
    const answers = sends.map(([t, changes]) => push(t, changes));
    await waitUntil('central to read every push', () => f.received() >= base + 1 + sends.length, { timeout: 15_000 });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 50));
    release();
    await first;
    return await Promise.all(answers);
  } finally {
    release();
  }
}

/** A completed sale: the order, `lines` lines, a payment. */
function sale(orderNumber: string, lines = 1): ChangeIn[] {
  const order = uid();
  const changes: ChangeIn[] = [
    { changeId: uid(), entityType: 'SaleOrder', entityId: order, operation: 'CREATE', data: { order_number: orderNumber, status: 'completed', total: 10 * lines } },
  ];
  for (let i = 0; i < lines; i++) {
    changes.push({
      changeId: uid(),
      entityType: 'SaleOrderItem',
      entityId: uid(),
      operation: 'CREATE',
      data: { order_id: order, description: `line ${i + 1}`, quantity: 1, unit_price: 10, line_total: 10 },
    });
  }
  changes.push({ changeId: uid(), entityType: 'Payment', entityId: uid(), operation: 'CREATE', data: { order_id: order, method: 'cash', amount: 10 * lines } });
  return changes;
}

const TABLE_OF: Record<string, string> = { SaleOrder: 'orders', SaleOrderItem: 'order_items', Payment: 'payments', Customer: 'customers', PurchaseOrder: 'purchase_orders' };

interface Stamp {
  readonly id: string;
  readonly xmin: string;
  readonly origin: string | null;
  readonly version: number;
  readonly store: string | null;
}

/** The rows these changes wrote: id, the transaction that wrote them (xmin), writer, version, store. */
async function stamps(c: Pick<TestCentral, 'db'>, changes: readonly ChangeIn[]): Promise<Map<string, Stamp>> {
  const out = new Map<string, Stamp>();
  const byTable = new Map<string, string[]>();
  for (const ch of changes) {
    const table = TABLE_OF[ch.entityType] as string;
    byTable.set(table, [...(byTable.get(table) ?? []), ch.entityId]);
  }
  for (const [table, ids] of byTable) {
    const store = table === 'customers' ? 'NULL::text' : 'store_id';
    const r = await c.db.query<{ id: string; xmin: string; origin: string | null; version: number; store: string | null }>(
      `SELECT id, xmin::text AS xmin, sync_origin AS origin, sync_version AS version, ${store} AS store FROM ${table} WHERE id = ANY($1::text[])`,
      [ids],
    );
    for (const row of r.rows) out.set(row.id, { ...row, version: Number(row.version) });
  }
  return out;
}

/** The terminals whose rows each transaction (xmin) wrote. */
function terminalsByTransaction(rows: Iterable<Stamp>): Map<string, Set<string>> {
  const by = new Map<string, Set<string>>();
  for (const r of rows) {
    const set = by.get(r.xmin) ?? new Set<string>();
    set.add(r.origin ?? '');
    by.set(r.xmin, set);
  }
  return by;
}

/** tillsync_push_group_size from GET /metrics: groups run, and how many of them held one push. */
async function groupMetric(c: TestCentral): Promise<{ runs: number; alone: number }> {
  const r = await c.admin.get('/metrics');
  expect(r.status).toBe(200);
  const runs = /^tillsync_push_group_size_count (\d+)$/m.exec(r.text);
  const alone = /^tillsync_push_group_size_bucket\{le="1"\} (\d+)$/m.exec(r.text);
  expect(runs, 'tillsync_push_group_size in /metrics').not.toBeNull();
  return { runs: Number(runs?.[1]), alone: Number(alone?.[1]) };
}

/** central's accepted counts of a terminal, per entity type. */
async function accepted(c: Pick<TestCentral, 'db'>, terminalId: string): Promise<Record<string, number>> {
  const r = await c.db.query<{ entity_type: string; accepted: number }>('SELECT entity_type, accepted FROM sync_accepted_counts WHERE terminal_id = $1', [
    terminalId,
  ]);
  return Object.fromEntries(r.rows.map((x) => [x.entity_type, Number(x.accepted)]));
}

/** Expects a 200 with one answer per change, each for its own change (same id, type, row, in order), each `status`. */
function expectAnswered(res: HttpResult<PushResponse>, t: ProvisionedTerminal, changes: readonly ChangeIn[], status: PushResult['status']): PushResult[] {
  expect(res.status, res.text).toBe(200);
  expect(res.body.terminalId).toBe(t.terminalId);
  expect(res.body.results.map((r) => [r.changeId, r.entityType, r.entityId, r.status])).toEqual(
    changes.map((ch) => [ch.changeId, ch.entityType, ch.entityId, status]),
  );
  return res.body.results;
}

// --------------------------------------------------------------------------- a

describe('a. many terminals in one push transaction', () => {
  let f: Fixture;
  let blockerT: ProvisionedTerminal;
  const terminals: ProvisionedTerminal[] = [];

  beforeAll(async () => {
    f = await groupingCentral();
    const stores = [`gc-a1-${tag()}`, `gc-a2-${tag()}`];
    blockerT = await f.c.provision(stores[0]);
    for (let i = 0; i < 12; i++) terminals.push(await f.c.provision(stores[i % 2]));
  });
  afterAll(async () => {
    await f?.close();
  });

  it('every sale is applied and answered per terminal; rows of several terminals share one transaction, each row stamped with its own terminal; replays are duplicates that write nothing', async () => {
    const before = await groupMetric(f.c);
    // Terminal i sends 1 to 3 lines: each terminal's counts are its own.
    const sends = terminals.map((t, i) => [t, sale(`${t.terminalId}-1`, 1 + (i % 3))] as const);
    const answers = await together(f, [blockerT, sale('blocker-1')], sends);

    const firstAnswers = new Map<string, PushResult[]>();
    sends.forEach(([t, changes], i) => {
      const results = expectAnswered(answers[i] as HttpResult<PushResponse>, t, changes, 'applied');
      expect(results.every((r) => r.version === 1)).toBe(true);
      expect(answers[i]?.body.summary).toEqual({ applied: changes.length, duplicate: 0, conflict: 0, rejected: 0 });
      firstAnswers.set(t.terminalId, results);
    });

    // Every row is its terminal's: stamped with it (never another terminal, '*row*' or 'central'), in its store.
    const all = new Map<string, Stamp>();
    for (const [t, changes] of sends) {
      const rows = await stamps(f.c, changes);
      expect(rows.size).toBe(changes.length);
      for (const r of rows.values()) {
        expect(r, `row ${r.id} of ${t.terminalId}`).toMatchObject({ origin: t.terminalId, store: t.storeId, version: 1 });
        all.set(r.id, r);
      }
      // One push, one transaction.
      expect(new Set([...rows.values()].map((r) => r.xmin)).size).toBe(1);
    }
    expect(await count(f.c, `orders WHERE sync_origin IN ('*row*', 'central')`)).toBe(0);
    expect(await count(f.c, `order_items WHERE sync_origin IN ('*row*', 'central')`)).toBe(0);
    expect(await count(f.c, `payments WHERE sync_origin IN ('*row*', 'central')`)).toBe(0);

    // Rows of at least two terminals were committed by one transaction.
    const shared = [...terminalsByTransaction(all.values()).values()].filter((s) => s.size > 1);
    expect(shared.length, 'a transaction holding rows of several terminals').toBeGreaterThan(0);

    // The metric saw a group of more than one push.
    const after = await groupMetric(f.c);
    expect(after.runs - after.alone - (before.runs - before.alone)).toBeGreaterThan(0);

    // What central accepted, per terminal.
    for (const [t, changes] of sends) {
      expect(await accepted(f.c, t.terminalId)).toEqual({ SaleOrder: 1, SaleOrderItem: changes.length - 2, Payment: 1 });
    }

    // Each terminal replays its push (again all in one group): its own answers, as duplicates; nothing written.
    const changeIds = sends.flatMap(([, changes]) => changes.map((ch) => ch.changeId as string));
    const kept = await answersKept(f.c, changeIds);
    expect(kept).toBe(changeIds.length);
    const appliedBefore = await count(f.c, 'sync_applied');
    const countsBefore = await Promise.all(sends.map(([t]) => accepted(f.c, t.terminalId)));
    const replays = await together(f, [blockerT, sale('blocker-2')], sends);
    sends.forEach(([t, changes], i) => {
      const results = expectAnswered(replays[i] as HttpResult<PushResponse>, t, changes, 'duplicate');
      expect(results).toEqual((firstAnswers.get(t.terminalId) as PushResult[]).map((r) => ({ ...r, status: 'duplicate', originalStatus: 'applied' })));
    });
    const allChanges = sends.flatMap(([, changes]) => changes);
    expect(await stamps(f.c, allChanges)).toEqual(all); // not one row written again (same xmin)
    expect(await count(f.c, 'sync_applied')).toBe(appliedBefore);
    expect(await answersKept(f.c, changeIds)).toBe(kept);
    expect(await Promise.all(sends.map(([t]) => accepted(f.c, t.terminalId)))).toEqual(countsBefore);
  });
});

describe('a. with TILLSYNC_PUSH_GROUP_MAX 1 (group commit off)', () => {
  let f: Fixture;
  let blockerT: ProvisionedTerminal;
  const terminals: ProvisionedTerminal[] = [];

  beforeAll(async () => {
    f = await groupingCentral({ pushGroupMax: 1 });
    const stores = [`gc-o1-${tag()}`, `gc-o2-${tag()}`];
    blockerT = await f.c.provision(stores[0]);
    for (let i = 0; i < 12; i++) terminals.push(await f.c.provision(stores[i % 2]));
  });
  afterAll(async () => {
    await f?.close();
  });

  it('the same load commits each push in a transaction of its own: no two terminals share one', async () => {
    const sends = terminals.map((t, i) => [t, sale(`${t.terminalId}-1`, 1 + (i % 3))] as const);
    const answers = await together(f, [blockerT, sale('blocker-1')], sends);
    const all: Stamp[] = [];
    sends.forEach(([t, changes], i) => void expectAnswered(answers[i] as HttpResult<PushResponse>, t, changes, 'applied'));
    for (const [t, changes] of sends) {
      const rows = await stamps(f.c, changes);
      for (const r of rows.values()) expect(r).toMatchObject({ origin: t.terminalId, store: t.storeId });
      all.push(...rows.values());
    }
    const byTransaction = terminalsByTransaction(all);
    expect([...byTransaction.values()].filter((s) => s.size > 1)).toEqual([]);
    expect(byTransaction.size).toBe(terminals.length);
    const m = await groupMetric(f.c);
    expect(m.runs).toBeGreaterThanOrEqual(terminals.length + 1);
    expect(m.alone).toBe(m.runs);
  });
});

// ----------------------------------------------------------------- b, c, d, e

describe('one central grouping pushes', () => {
  let f: Fixture;
  let storeA: string;
  let storeB: string;
  let blockerT: ProvisionedTerminal;
  let n = 0;
  const blocker = (): Send => [blockerT, sale(`blocker-${++n}`)];

  beforeAll(async () => {
    f = await groupingCentral();
    storeA = `gc-a-${tag()}`;
    storeB = `gc-b-${tag()}`;
    blockerT = await f.c.provision(storeA);
  });
  afterAll(async () => {
    await f?.close();
  });

  it("b. each pulled row, change-log entry and announcement carries its own writer: A's pull serves its own change at its answered version, B's as B's", async () => {
    const a = await f.c.provision(storeA);
    const b = await f.c.provision(storeB);
    // B creates the customer A will update: without a writer per row, A's update could pass as B's.
    const ca = uid();
    const created = await pushOk(b, [{ changeId: uid(), entityType: 'Customer', entityId: ca, operation: 'CREATE', data: { name: 'Ada', loyalty_points: 1 } }]);
    expect(created.results[0]).toMatchObject({ status: 'applied', version: 1 });
    const fromA = (await pullAll(f.c, a, 'Customer')).cursor;
    const fromB = (await pullAll(f.c, b, 'Customer')).cursor;
    const heard: { t: string; s: string | null; o: string | null; x?: string }[] = [];
    const stop = await f.td.db.listen(CHANGES_CHANNEL, (p) => heard.push(JSON.parse(p)));
    try {
      const cb = uid();
      const aChanges: ChangeIn[] = [{ changeId: uid(), entityType: 'Customer', entityId: ca, operation: 'UPDATE', syncVersion: 1, data: { name: 'Ada L.' } }];
      const bChanges: ChangeIn[] = [{ changeId: uid(), entityType: 'Customer', entityId: cb, operation: 'CREATE', data: { name: 'Bea', loyalty_points: 2 } }];
      const [ra, rb] = await together(f, blocker(), [
        [a, aChanges],
        [b, bChanges],
      ]);
      const aAnswer = expectAnswered(ra as HttpResult<PushResponse>, a, aChanges, 'applied')[0] as PushResult;
      const bAnswer = expectAnswered(rb as HttpResult<PushResponse>, b, bChanges, 'applied')[0] as PushResult;
      expect(aAnswer.version).toBe(2);
      expect(bAnswer.version).toBe(1);

      // One transaction, each row its own writer.
      const rows = await stamps(f.c, [...aChanges, ...bChanges]);
      expect(rows.get(ca)).toMatchObject({ origin: a.terminalId, version: 2 });
      expect(rows.get(cb)).toMatchObject({ origin: b.terminalId, version: 1 });
      expect(rows.get(ca)?.xmin).toBe(rows.get(cb)?.xmin);

      // The change log: each entry its own writer.
      const log = await f.c.db.query<{ entity_id: string; version: number; origin: string }>(
        `SELECT entity_id, version, origin FROM sync_changes WHERE entity_type = 'Customer' AND entity_id = ANY($1::text[]) ORDER BY entity_id, version`,
        [[ca, cb]],
      );
      expect(log.rows.map((r) => `${r.entity_id} v${Number(r.version)} by ${r.origin}`).sort()).toEqual(
        [`${ca} v1 by ${b.terminalId}`, `${ca} v2 by ${a.terminalId}`, `${cb} v1 by ${b.terminalId}`].sort(),
      );

      // The announcements (which terminals are hinted: every one but the writer): one per writer, one transaction.
      await waitUntil('both announcements', () => heard.filter((h) => h.t === 'Customer').length >= 2, { timeout: 10_000 });
      const customers = heard.filter((h) => h.t === 'Customer');
      expect(customers.map((h) => h.o).sort()).toEqual([a.terminalId, b.terminalId].sort());
      expect(customers.every((h) => h.s === null && h.x === customers[0]?.x)).toBe(true);

      // A's pull: its own change at the version its push was answered (its engine skips it: no echo), and B's as B's.
      const pulledA = (await pullAll(f.c, a, 'Customer', fromA)).changes;
      expect(pulledA.map((p) => `${p.entityId} v${p.version} by ${p.origin}`).sort()).toEqual(
        [`${ca} v${aAnswer.version} by ${a.terminalId}`, `${cb} v1 by ${b.terminalId}`].sort(),
      );
      // B's pull: A's change to B's customer as A's (B must apply it), its own as its own.
      const pulledB = (await pullAll(f.c, b, 'Customer', fromB)).changes;
      expect(pulledB.find((p) => p.entityId === ca)).toMatchObject({ version: 2, origin: a.terminalId, data: { name: 'Ada L.' } });
      expect(pulledB.find((p) => p.entityId === cb)).toMatchObject({ version: bAnswer.version, origin: b.terminalId });
    } finally {
      await stop();
    }
  });

  it('c. a push the database refuses fails alone (500): nothing of it is written, and every other push of its group is applied, each re-run on its own', async () => {
    await f.td.db.query(`CREATE FUNCTION test_group_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.order_number = 'boom' THEN RAISE EXCEPTION 'test: this order cannot be stored'; END IF;
        RETURN NEW;
      END $$`);
    await f.td.db.query(`CREATE TRIGGER test_group_boom BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_group_boom()`);
    try {
      const good: ProvisionedTerminal[] = [];
      for (let i = 0; i < 4; i++) good.push(await f.c.provision(i % 2 ? storeA : storeB));
      const bad = await f.c.provision(storeA);
      const badChanges = sale('boom', 2);
      const sends: Send[] = good.map((t) => [t, sale(`${t.terminalId}-c`, 2)] as const);
      sends.splice(2, 0, [bad, badChanges]); // in the middle of the group
      const before = await groupMetric(f.c);
      const answers = await together(f, blocker(), sends);

      const failed = answers[2] as HttpResult<PushResponse>;
      expect(failed.status, failed.text).toBe(500);
      expect(failed.body).toMatchObject({ code: 'INTERNAL' });
      // Nothing of it: no row, no answer, nothing counted.
      expect((await stamps(f.c, badChanges)).size).toBe(0);
      expect(await answersKept(f.c, badChanges.map((ch) => ch.changeId as string))).toBe(0);
      expect(await accepted(f.c, bad.terminalId)).toEqual({});

      const rows: Stamp[] = [];
      for (const [i, [t, changes]] of sends.entries()) {
        if (t === bad) continue;
        expectAnswered(answers[i] as HttpResult<PushResponse>, t, changes, 'applied');
        const mine = [...(await stamps(f.c, changes)).values()];
        expect(mine).toHaveLength(changes.length);
        for (const r of mine) expect(r).toMatchObject({ origin: t.terminalId, version: 1 });
        expect(await accepted(f.c, t.terminalId)).toEqual({ SaleOrder: 1, SaleOrderItem: 2, Payment: 1 });
        rows.push(...mine);
      }
      // The group of five was tried (the metric), failed, and each member ran again alone: no transaction holds two terminals' rows.
      const after = await groupMetric(f.c);
      expect(after.runs - after.alone - (before.runs - before.alone)).toBeGreaterThan(0);
      expect([...terminalsByTransaction(rows).values()].filter((s) => s.size > 1)).toEqual([]);
    } finally {
      await f.td.db.query('DROP TRIGGER IF EXISTS test_group_boom ON orders');
      await f.td.db.query('DROP FUNCTION IF EXISTS test_group_boom()');
    }
  });

  it('c. (after) the refused push, sent again once the database takes it, is applied in full: it left no answer behind', async () => {
    const t = await f.c.provision(storeB);
    const changes = sale('boom', 1);
    const res = await pushOk(t, changes);
    expect(res.results.map((r) => [r.status, r.version])).toEqual(changes.map(() => ['applied', 1]));
  });

  it("d. back-office SQL cannot claim a terminal's identity; writing sync_origin alone is no change; the '*row*' marker is not a secret", async () => {
    const t = await f.c.provision(storeA);
    const p = uid();
    await pushOk(t, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: { sku: `GC-${p.slice(0, 8)}`, name: 'Kettle', price: 1 } }]);
    expect(await rowOf(f.c, 'products', p)).toMatchObject({ sync_origin: t.terminalId, sync_version: 1 });
    const logged = () => count(f.c, `sync_changes WHERE entity_type = 'Product' AND entity_id = $1`, [p]);
    expect(await logged()).toBe(1);

    // An update naming a terminal as its writer is stamped as what it is: central.
    await f.c.db.query(`UPDATE products SET price = 2, sync_origin = $2 WHERE id = $1`, [p, t.terminalId]);
    expect(await rowOf(f.c, 'products', p)).toMatchObject({ price: 2, sync_origin: 'central', sync_version: 2 });
    expect(await logged()).toBe(2);

    // An update of sync_origin alone changes nothing: no new version, no log entry, the writer stays.
    const before = await rowOf(f.c, 'products', p);
    await f.c.db.query(`UPDATE products SET sync_origin = $2 WHERE id = $1`, [p, t.terminalId]);
    expect(await rowOf(f.c, 'products', p)).toEqual(before);
    expect(await logged()).toBe(2);

    // An insert naming a terminal is central's too.
    const q = uid();
    await f.c.db.query(`INSERT INTO products (id, sku, name, price, sync_origin) VALUES ($1, $2, 'Mug', 1, $3)`, [q, `GC-${q.slice(0, 8)}`, t.terminalId]);
    expect(await rowOf(f.c, 'products', q)).toMatchObject({ sync_origin: 'central', sync_version: 1 });

    // Not a secret: SQL that sets the push's marker in its transaction stamps the origin it writes
    // (as SQL setting tillsync.origin to a terminal id always could). The marker keeps honest SQL
    // from claiming a terminal by accident; it is no barrier to SQL that means to.
    await f.td.db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('tillsync.origin', '*row*', true)`);
      await tx.query(`UPDATE products SET price = 3, sync_origin = $2 WHERE id = $1`, [p, t.terminalId]);
    });
    expect(await rowOf(f.c, 'products', p)).toMatchObject({ price: 3, sync_origin: t.terminalId, sync_version: 3 });
    await f.td.db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('tillsync.origin', $1, true)`, [t.terminalId]);
      await tx.query(`UPDATE products SET price = 4, sync_origin = 'someone-else' WHERE id = $1`, [p]);
    });
    expect(await rowOf(f.c, 'products', p)).toMatchObject({ price: 4, sync_origin: t.terminalId, sync_version: 4 });
  });

  it("e. B's open conflict on a row does not catch A's change of that row in a group with B: A is answered as when it pushes alone", async () => {
    const store = `gc-e-${tag()}`;
    const a = await f.c.provision(store);
    const b = await f.c.provision(store);
    /** A purchase order that HQ changed after B saw it, and B's change of it parked (B's open conflict). */
    const parkedByB = async () => {
      const po = uid();
      const base = { po_number: `PO-${po.slice(0, 6)}`, status: 'draft', total: 100, notes: 'base' };
      await pushOk(a, [{ changeId: uid(), entityType: 'PurchaseOrder', entityId: po, operation: 'CREATE', data: base }]);
      await f.c.db.query(`UPDATE purchase_orders SET status = 'ordered', total = 120 WHERE id = $1`, [po]);
      const parked = await pushOk(b, [
        { changeId: uid(), entityType: 'PurchaseOrder', entityId: po, operation: 'UPDATE', baseData: { id: po, ...base }, data: { notes: 'B' }, syncVersion: 1 },
      ]);
      expect(parked.results[0]).toMatchObject({ status: 'conflict', resolution: 'PARKED', version: 2 });
      const conflictId = parked.results[0]?.conflictId as string;
      const record = (await f.c.db.query<Row>('SELECT * FROM sync_conflicts WHERE id = $1', [conflictId])).rows[0];
      expect(record).toMatchObject({ terminal_id: b.terminalId, status: 'open' });
      return { po, conflictId, record };
    };
    const aChange = (po: string): ChangeIn => ({ changeId: uid(), entityType: 'PurchaseOrder', entityId: po, operation: 'UPDATE', data: { notes: 'A' }, syncVersion: 2 });
    const shape = (r: PushResult) => ({ ...r, changeId: '', entityId: '' });

    // Alone.
    const one = await parkedByB();
    const aloneChange = aChange(one.po);
    const alone = (await pushOk(a, [aloneChange])).results[0] as PushResult;
    expect(alone).toMatchObject({ status: 'applied', version: 3 });
    expect(alone.conflictId).toBeUndefined();

    // In one group with B (B writes another row).
    const two = await parkedByB();
    const groupedChange = aChange(two.po);
    const bChanges: ChangeIn[] = [{ changeId: uid(), entityType: 'Customer', entityId: uid(), operation: 'CREATE', data: { name: 'Cy' } }];
    const [ra, rb] = await together(f, blocker(), [
      [a, [groupedChange]],
      [b, bChanges],
    ]);
    expectAnswered(rb as HttpResult<PushResponse>, b, bChanges, 'applied');
    const grouped = expectAnswered(ra as HttpResult<PushResponse>, a, [groupedChange], 'applied')[0] as PushResult;
    expect(shape(grouped)).toEqual(shape(alone));
    // They were in one transaction; A's write is A's, B's conflict is as it was.
    const rows = await stamps(f.c, [groupedChange, ...bChanges]);
    expect(rows.get(two.po)).toMatchObject({ origin: a.terminalId, version: 3 });
    expect(rows.get(two.po)?.xmin).toBe(rows.get(bChanges[0]?.entityId as string)?.xmin);
    expect((await f.c.db.query<Row>('SELECT * FROM sync_conflicts WHERE id = $1', [two.conflictId])).rows[0]).toEqual(two.record);
    expect(await count(f.c, 'sync_conflicts WHERE entity_id = $1', [two.po])).toBe(1);
  });
});

// ----------------------------------------------------------------- f

describe.runIf(onPostgres)('f. a push transaction stuck on a row lock does not hold up other terminals (PostgreSQL)', () => {
  let f: Fixture;
  beforeAll(async () => {
    // As deployed on PostgreSQL: two push transactions at once, a stuck one stops counting after 200 ms.
    f = await groupingCentral({ pushTransactions: 2, pushStallMs: 200 });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('with both push transactions waiting for rows an open back-office transaction holds, a third terminal’s sale is still applied at once', async () => {
    const store = `gc-f-${tag()}`;
    const [a, b, c] = [await f.c.provision(store), await f.c.provision(store), await f.c.provision(store)];
    const x = uid();
    const y = uid();
    await pushOk(a, [
      { changeId: uid(), entityType: 'Customer', entityId: x, operation: 'CREATE', data: { name: 'X', loyalty_points: 0 } },
      { changeId: uid(), entityType: 'Customer', entityId: y, operation: 'CREATE', data: { name: 'Y', loyalty_points: 0 } },
    ]);
    // Back office: an open transaction holding both customers' rows.
    const backOffice = await holdOpen(f.td.db, (tx) => tx.query(`UPDATE customers SET notes = 'back office' WHERE id = ANY($1::text[])`, [[x, y]]));
    try {
      // A's and B's pushes (one row each) wait for those rows, in both push transactions.
      const pa = push(a, [{ changeId: uid(), entityType: 'Customer', entityId: x, operation: 'UPDATE', syncVersion: 1, data: { name: 'X by A' } }]);
      await waitUntil('A to wait for its row', async () => (await lockWaits(f.td.db)) >= 1, { timeout: 10_000 });
      const pb = push(b, [{ changeId: uid(), entityType: 'Customer', entityId: y, operation: 'UPDATE', syncVersion: 1, data: { name: 'Y by B' } }]);
      await waitUntil('B to wait for its row', async () => (await lockWaits(f.td.db)) >= 2, { timeout: 10_000 });
      // C's sale touches neither row: it is answered while the back office still holds them.
      const changes = sale(`not-held-up-${tag()}`);
      const answered = await Promise.race([
        push(c, changes),
        new Promise<'held up'>((r) => setTimeout(() => r('held up'), 10_000).unref()),
      ]);
      expect(answered, 'C waited for the back office').not.toBe('held up');
      if (answered !== 'held up') expectAnswered(answered, c, changes, 'applied');
      backOffice.release();
      await backOffice.done;
      // A and B are answered once the rows are free.
      for (const [res, t] of [[await pa, a], [await pb, b]] as const) {
        expect(res.status, res.text).toBe(200);
        expect(res.body.terminalId).toBe(t.terminalId);
      }
    } finally {
      backOffice.release();
      await backOffice.done.catch(() => undefined);
    }
  });
});

// ----------------------------------------------------------------- g

describe.runIf(onPostgres)('g. a push takes every lock in one order: by table, then by id, rows it writes and rows it points at alike (PostgreSQL)', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await groupingCentral({ pushTransactions: 2, pushStallMs: 200 });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('waiting for an order it points at (lower id), the push holds no lock yet on the order it writes (higher id): two groups each writing what the other points at cannot deadlock', async () => {
    const store = `gc-g-${tag()}`;
    const t = await f.c.provision(store);
    const k = tag();
    const [low, high] = [`order-a-${k}`, `order-b-${k}`];
    for (const id of [low, high]) {
      await pushOk(t, [{ changeId: uid(), entityType: 'SaleOrder', entityId: id, operation: 'CREATE', data: { order_number: id, status: 'pending', total: 5 } }]);
    }
    // Back office holds the lower order.
    const backOffice = await holdOpen(f.td.db, (tx) => tx.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE', [low]));
    try {
      // The push completes the higher order and pays the lower one (its parent).
      const changes: ChangeIn[] = [
        { changeId: uid(), entityType: 'SaleOrder', entityId: high, operation: 'UPDATE', syncVersion: 1, data: { status: 'completed' } },
        { changeId: uid(), entityType: 'Payment', entityId: uid(), operation: 'CREATE', data: { order_id: low, method: 'cash', amount: 5 } },
      ];
      const pushing = push(t, changes);
      await waitUntil('the push to wait for the lower order', async () => (await lockWaits(f.td.db)) >= 1, { timeout: 10_000 });
      // Meanwhile the higher order is free: the push locks in id order, so it has not taken it yet.
      const probe = await f.td.db
        .transaction(async (tx) => {
          await tx.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE NOWAIT', [high]);
          return 'free';
        })
        .catch((err: unknown) => `locked: ${err instanceof Error ? err.message : String(err)}`);
      expect(probe).toBe('free');
      backOffice.release();
      await backOffice.done;
      expectAnswered(await pushing, t, changes, 'applied');
    } finally {
      backOffice.release();
      await backOffice.done.catch(() => undefined);
    }
  });
});
