/**
 * Statements central runs again and again (a push's write, the key lookup) are kept
 * prepared on PostgreSQL: parsed and planned once per connection rather than at every
 * run (in the 1,000-terminal fleet the write spent a third of its time planning,
 * bench/README.md). A text is named at its second run, a bounded number of them; the
 * rest run unnamed. A connection whose prepared statements the server lost is closed.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PREPARED, openPostgres, preparedNames } from '../../src/server/db/database.js';
import { onPostgres, testDatabase } from '../helpers/central.js';

describe('preparedNames', () => {
  it('names a text at its second run, the same name every time after, and no more than its bound', () => {
    const name = preparedNames(2);
    expect(name('SELECT 1')).toBeUndefined(); // seen once: a one-off shape takes no slot
    const a = name('SELECT 1');
    expect(name('SELECT 2')).toBeUndefined();
    const b = name('SELECT 2');
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
    expect(name('SELECT 1')).toBe(a);
    name('SELECT 3');
    expect(name('SELECT 3')).toBeUndefined(); // past the bound: unnamed
    expect(name('SELECT 2')).toBe(b);
    expect(MAX_PREPARED).toBeGreaterThan(0);
  });
});

describe.skipIf(!onPostgres)('reused statements on a PostgreSQL server', () => {
  it('are prepared once on a connection, inside and outside transactions; others are not', async () => {
    const td = await testDatabase();
    // One connection, so what it has prepared can be read back on it.
    const db = openPostgres({ connectionString: td.url as string, max: 1 });
    const prepared = async () =>
      (await db.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements ORDER BY prepare_time`)).rows.map((r) => r.statement);
    try {
      const reused = 'SELECT $1::int + 1 AS x';
      expect((await db.query<{ x: number }>(reused, [1], { reuse: true })).rows).toEqual([{ x: 2 }]);
      expect((await db.query<{ x: number }>(reused, [2], { reuse: true })).rows).toEqual([{ x: 3 }]);
      await db.query('SELECT $1::int + 2 AS y', [1]);
      const inTx = 'SELECT $1::text AS t';
      const r = await db.transaction(async (tx) => {
        await tx.query(inTx, ['a'], { reuse: true });
        return tx.query<{ t: string }>(inTx, ['b'], { reuse: true });
      });
      expect(r.rows).toEqual([{ t: 'b' }]);
      expect(await prepared()).toEqual([reused, inTx]);
    } finally {
      await db.close();
      await td.close();
    }
  });

  it('a connection whose prepared statements the server lost is closed, not served again', async () => {
    const td = await testDatabase();
    const db = openPostgres({ connectionString: td.url as string, max: 1 });
    const reused = 'SELECT $1::int * 2 AS x';
    const run = (v: number) => db.transaction(async (tx) => (await tx.query<{ x: number }>(reused, [v], { reuse: true })).rows[0]?.x);
    try {
      expect(await run(1)).toBe(2);
      expect(await run(2)).toBe(4); // named and prepared now
      await db.transaction(async (tx) => tx.query('DEALLOCATE ALL')); // a pooler or an operator drops them
      await expect(run(3)).rejects.toMatchObject({ code: '26000' }); // the statement is gone on this connection
      expect(await run(4)).toBe(8); // a new connection prepares it again
      expect(await run(5)).toBe(10);
    } finally {
      await db.close();
      await td.close();
    }
  });
});
