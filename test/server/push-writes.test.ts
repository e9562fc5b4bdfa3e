/**
 * What a push costs central, and that the cheaper path keeps invariant 3: a push is
 * one transaction of two statements (read and lock; write) with no authentication
 * query once the key is known; each answer is written once, with its final status and
 * version (never claimed, then updated), on its row or in sync_applied; a refusal writes nothing;
 * and two concurrent pushes of the same change ids apply them once, the other push
 * answering them as duplicates with the same answers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable, QueryOptions } from '../../src/server/db/database.js';
import { HORIZON_SQL } from '../../src/server/services/change-hints.js';
import type { PushResponse } from '../../src/shared/protocol.js';
import { onPostgres, startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { holdOpen, lockWaits } from '../helpers/locks.js';
import { waitUntil } from '../helpers/processes.js';
import { answersKept, count, push, pushOk, rowOf, type ChangeIn } from '../helpers/sync.js';

const uid = () => randomUUID();
const tag = () => randomBytes(4).toString('hex');

/**
 * A view of the Database that counts statements (outside and inside transactions) and
 * can hold the next transaction open after its work, before its COMMIT.
 */
class Recorder {
  outside = 0;
  transactions = 0;
  inside = 0;
  /** Per statement inside a transaction, whether it asked to be kept prepared. */
  reused: boolean[] = [];
  private holdNext: { held: () => void; release: Promise<void> } | undefined;

  constructor(private readonly inner: Database) {}

  reset(): void {
    this.outside = 0;
    this.transactions = 0;
    this.inside = 0;
    this.reused = [];
  }

  /** The next transaction waits, uncommitted, for `release` once its work is done; resolves when it does. */
  holdNextTransaction(release: Promise<void>): Promise<void> {
    return new Promise((held) => {
      this.holdNext = { held, release };
    });
  }

  get db(): Database {
    const inner = this.inner;
    return {
      ...inner,
      query: async <T extends object>(text: string, params?: readonly unknown[], opts?: QueryOptions) => {
        // Central's hint bookkeeping (the pull horizon, after a commit that announced changes) is not the push's.
        if (text !== HORIZON_SQL) this.outside++;
        return inner.query<T>(text, params, opts);
      },
      transaction: async <T,>(fn: (tx: Queryable) => Promise<T>) => {
        this.transactions++;
        const hold = this.holdNext;
        this.holdNext = undefined;
        return inner.transaction(async (tx) => {
          const counted: Queryable = {
            query: async <R extends object>(text: string, params?: readonly unknown[], opts?: QueryOptions) => {
              this.inside++;
              this.reused.push(opts?.reuse === true);
              return tx.query<R>(text, params, opts);
            },
          };
          const result = await fn(counted);
          if (hold) {
            hold.held();
            await hold.release;
          }
          return result;
        });
      },
      close: async () => undefined,
    };
  }
}

/** A completed sale as the engine pushes it: the order, two lines and a payment. */
function sale(): ChangeIn[] {
  const order = uid();
  return [
    { changeId: uid(), entityType: 'SaleOrder', entityId: order, operation: 'CREATE', data: { order_number: `N-${tag()}`, status: 'completed', total: 12.5 } },
    { changeId: uid(), entityType: 'SaleOrderItem', entityId: uid(), operation: 'CREATE', data: { order_id: order, quantity: 1, unit_price: 10 } },
    { changeId: uid(), entityType: 'SaleOrderItem', entityId: uid(), operation: 'CREATE', data: { order_id: order, quantity: 1, unit_price: 2.5 } },
    { changeId: uid(), entityType: 'Payment', entityId: uid(), operation: 'CREATE', data: { order_id: order, method: 'cash', amount: 12.5 } },
  ];
}

let td: TestDatabase;
let rec: Recorder;
let c: TestCentral;
let t: ProvisionedTerminal;

beforeAll(async () => {
  td = await testDatabase();
  rec = new Recorder(td.db);
  c = await startCentral({ db: rec.db });
  t = await c.provision(`pw-${tag()}`);
  // What is written to sync_applied, statement by statement kind.
  await td.db.query(`CREATE TABLE test_applied_writes (op text NOT NULL, change_id text NOT NULL)`);
  await td.db.query(`CREATE FUNCTION test_applied_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO test_applied_writes VALUES (TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.change_id ELSE NEW.change_id END);
      RETURN NULL;
    END $$`);
  await td.db.query(`CREATE TRIGGER test_applied_write AFTER INSERT OR UPDATE OR DELETE ON sync_applied FOR EACH ROW EXECUTE FUNCTION test_applied_write()`);
});
afterAll(async () => {
  await c?.close();
  await td?.close();
});

async function writesOf(changeIds: readonly string[]): Promise<string[]> {
  const r = await td.db.query<{ op: string; change_id: string }>(
    'SELECT op, change_id FROM test_applied_writes WHERE change_id = ANY($1::text[]) ORDER BY op, change_id',
    [changeIds],
  );
  return r.rows.map((x) => `${x.op} ${x.change_id}`);
}

describe('the cost of a push', () => {
  it('a single-sale push is one transaction of two statements, and asks nothing to authenticate', async () => {
    await pushOk(t, sale()); // the key is looked up once
    rec.reset();
    const res = await pushOk(t, sale());
    expect(res.summary).toEqual({ applied: 4, duplicate: 0, conflict: 0, rejected: 0 });
    expect({ outside: rec.outside, transactions: rec.transactions, inside: rec.inside }).toEqual({ outside: 0, transactions: 1, inside: 2 });
    // The write is kept prepared (on PostgreSQL: parsed and planned once per connection,
    // not at every push); the read is planned each time, for the ids it is given.
    expect(rec.reused).toEqual([false, true]);

    // A batch over several tables with a conflict in it costs no more statements.
    const product = uid();
    await pushOk(t, [{ changeId: uid(), entityType: 'Product', entityId: product, operation: 'CREATE', data: { sku: `S-${tag()}`, name: 'P', price: 1 } }]);
    await td.db.query('UPDATE products SET price = 2 WHERE id = $1', [product]);
    rec.reset();
    const mixed = await pushOk(t, [
      ...sale(),
      { changeId: uid(), entityType: 'Product', entityId: product, operation: 'UPDATE', data: { price: 3 }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Customer', entityId: uid(), operation: 'CREATE', data: { name: 'Ada' } },
    ]);
    expect(mixed.summary).toEqual({ applied: 5, duplicate: 0, conflict: 1, rejected: 0 });
    expect({ outside: rec.outside, transactions: rec.transactions, inside: rec.inside }).toEqual({ outside: 0, transactions: 1, inside: 2 });
  });

  it("each answer is written once, with its final answer: a row's last plain applied change on the row, the others to sync_applied; refusals and replays write nothing", async () => {
    const stale = uid();
    await pushOk(t, [{ changeId: uid(), entityType: 'Product', entityId: stale, operation: 'CREATE', data: { sku: `S-${tag()}`, name: 'P', price: 1 } }]);
    await td.db.query('UPDATE products SET price = 5 WHERE id = $1', [stale]); // version 2
    const repeated = uid();
    const customer = uid();
    const batch: ChangeIn[] = [
      ...sale(),
      { changeId: repeated, entityType: 'Customer', entityId: customer, operation: 'CREATE', data: { name: 'Once', loyalty_points: 1 } },
      { changeId: repeated, entityType: 'Customer', entityId: customer, operation: 'CREATE', data: { name: 'Once', loyalty_points: 1 } },
      { changeId: uid(), entityType: 'Customer', entityId: customer, operation: 'UPDATE', data: { name: 'Twice' }, syncVersion: 0 },
      { changeId: uid(), entityType: 'Product', entityId: stale, operation: 'UPDATE', data: { price: 9 }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Product', entityId: uid(), operation: 'CREATE', data: { sku: 'no price' } },
      { changeId: uid(), entityType: 'Category', entityId: uid(), operation: 'CREATE', data: { name: 'down only' } },
    ];
    const ids = [...new Set(batch.map((b) => b.changeId as string))];
    const res = await pushOk(t, batch);
    expect(res.results.map((r) => r.status)).toEqual([
      'applied',
      'applied',
      'applied',
      'applied',
      'applied',
      'duplicate',
      'applied',
      'conflict',
      'rejected',
      'rejected',
    ]);
    // The customer was created and updated in the batch, in one write: every answer carries the version it reached.
    expect(res.results.slice(4, 7).map((r) => r.version)).toEqual([1, 1, 1]);
    expect(await rowOf({ db: td.db }, 'customers', customer)).toMatchObject({ name: 'Twice', sync_version: 1 });
    expect(res.results[7]).toMatchObject({ resolution: 'CENTRAL_WINS', version: 2 });

    const settled = res.results.filter((r, i) => r.status !== 'rejected' && r.status !== 'duplicate' && i !== 5);
    // The sale's rows and the customer's last change hold their answers; the customer's create
    // (an earlier change of its row) and the conflict are kept in sync_applied.
    const apart = [res.results[4], res.results[7]] as PushResponse['results'];
    expect(await writesOf(ids)).toEqual(apart.map((r) => `INSERT ${r.changeId}`).sort());
    const stored = await td.db.query<{ change_id: string; status: string; version: number; result: unknown }>(
      'SELECT change_id, status, version, result FROM sync_applied WHERE change_id = ANY($1::text[])',
      [ids],
    );
    expect(new Map(stored.rows.map((r) => [r.change_id, [r.status, Number(r.version), r.result]]))).toEqual(
      new Map(apart.map((r) => [r.changeId, [r.status, r.version, r]])),
    );
    expect(await answersKept({ db: td.db }, ids)).toBe(settled.length);
    expect(await rowOf({ db: td.db }, 'customers', customer)).toMatchObject({ sync_change_id: res.results[6]?.changeId });

    // A replay gets the same answers and writes nothing to sync_applied.
    await td.db.query('DELETE FROM test_applied_writes');
    const replay = await pushOk(t, batch);
    expect(replay.results.map((r) => r.status)).toEqual([...Array(8).fill('duplicate'), 'rejected', 'rejected']);
    for (let i = 0; i < 8; i++) expect(replay.results[i]?.version).toBe(res.results[i]?.version);
    expect(await writesOf(ids)).toEqual([]);
  });
});

describe('two pushes of the same changes at once', () => {
  /**
   * Pushes `batch` twice, the second while the first has written but not committed
   * (PostgreSQL; PGlite runs transactions one after the other, so there the second
   * simply comes after the first). Returns both answers.
   */
  async function racing(batch: ChangeIn[]): Promise<[PushResponse, PushResponse]> {
    if (!onPostgres) {
      const both = await Promise.all([push(t, batch), push(t, batch)]);
      for (const r of both) expect(r.status, r.text).toBe(200);
      const [x, y] = both.map((r) => r.body);
      const firstApplied = x?.results.every((r) => r.status !== 'duplicate') ? [x, y] : [y, x];
      return firstApplied as [PushResponse, PushResponse];
    }
    let release: () => void = () => undefined;
    const held = rec.holdNextTransaction(
      new Promise<void>((r) => {
        release = r;
      }),
    );
    const first = push(t, batch);
    await held;
    const waitingBefore = await lockWaits(td.db);
    const second = push(t, batch);
    // The second push reaches a row the first has written or locked, and waits on it.
    await waitUntil('the second push to wait for the first', async () => (await lockWaits(td.db)) > waitingBefore, { timeout: 10_000 });
    release();
    const [a, b] = await Promise.all([first, second]);
    expect(a.status, a.text).toBe(200);
    expect(b.status, b.text).toBe(200);
    return [a.body, b.body];
  }

  it('new rows: applied once; the other push answers duplicate with the same versions', async () => {
    const batch = sale();
    const [first, second] = await racing(batch);
    expect(first.results.map((r) => [r.status, r.version])).toEqual(batch.map(() => ['applied', 1]));
    expect(second.results).toEqual(first.results.map((r) => ({ ...r, status: 'duplicate', originalStatus: 'applied' })));
    const ids = batch.map((b) => b.entityId);
    expect(await count({ db: td.db }, 'sync_changes WHERE entity_id = ANY($1::text[])', [ids])).toBe(0); // a sale's tables are up-only: not logged
    expect(await answersKept({ db: td.db }, batch.map((b) => b.changeId as string))).toBe(4);
    expect(await rowOf({ db: td.db }, 'orders', batch[0]?.entityId as string)).toMatchObject({ sync_version: 1 });
  });

  it('an update of an existing row: applied once, no conflict is made up from the other push having applied it', async () => {
    const customer = uid();
    await pushOk(t, [{ changeId: uid(), entityType: 'Customer', entityId: customer, operation: 'CREATE', data: { name: 'Race', loyalty_points: 10 } }]);
    const batch: ChangeIn[] = [
      { changeId: uid(), entityType: 'Customer', entityId: customer, operation: 'UPDATE', data: { loyalty_points: 15 }, syncVersion: 1, baseData: { loyalty_points: 10 } },
    ];
    const [first, second] = await racing(batch);
    expect(first.results.map((r) => [r.status, r.version])).toEqual([['applied', 2]]);
    expect(second.results).toEqual([{ ...first.results[0], status: 'duplicate', originalStatus: 'applied' }]);
    expect(await rowOf({ db: td.db }, 'customers', customer)).toMatchObject({ loyalty_points: 15, sync_version: 2 });
    expect(await count({ db: td.db }, 'sync_conflicts WHERE entity_id = $1', [customer])).toBe(0);
    expect(await count({ db: td.db }, 'sync_changes WHERE entity_id = $1', [customer])).toBe(2);
  });
});

describe('a row created by another writer while a push creates it', () => {
  it('is not written over: the push is judged again against that row, as a conflict', async () => {
    const customer = uid();
    const change: ChangeIn = { changeId: uid(), entityType: 'Customer', entityId: customer, operation: 'CREATE', data: { name: 'Till', loyalty_points: 5 } };
    let res: Awaited<ReturnType<typeof push>>;
    if (onPostgres) {
      // The back office inserts the row and holds its transaction open; the push reads
      // the row as missing, its insert waits on the uncommitted one, which then commits.
      const office = await holdOpen(td.db, (tx) => tx.query(`INSERT INTO customers (id, name, loyalty_points) VALUES ($1, 'Office', 7)`, [customer]));
      const waitingBefore = await lockWaits(td.db);
      const pushing = push(t, [change]);
      await waitUntil('the push to wait on the uncommitted row', async () => (await lockWaits(td.db)) > waitingBefore, { timeout: 10_000 });
      office.release();
      await office.done;
      res = await pushing;
    } else {
      // PGlite runs one transaction at a time: the other writer's row is there before the push reads.
      await td.db.query(`INSERT INTO customers (id, name, loyalty_points) VALUES ($1, 'Office', 7)`, [customer]);
      res = await push(t, [change]);
    }
    expect(res.status, res.text).toBe(200);
    expect(res.body?.results[0]).toMatchObject({ status: 'conflict', entityId: customer });
    expect(await count({ db: td.db }, 'sync_conflicts WHERE entity_id = $1', [customer])).toBe(1);
    // The office's write was seen: its version 1 is the version the conflict was judged against.
    const conflict = await td.db.query<{ central_version: number }>('SELECT central_version FROM sync_conflicts WHERE entity_id = $1', [customer]);
    expect(Number(conflict.rows[0]?.central_version)).toBe(1);
  });
});

