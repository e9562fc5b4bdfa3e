/**
 * Statements central runs again and again (a push's write, the key lookup) are kept
 * prepared on PostgreSQL: parsed and planned once per connection rather than at every
 * run (the write's planning was a third of PostgreSQL's time in the 1,000-terminal
 * fleet, bench/README.md). A bounded number of texts get a name; the rest run unnamed.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PREPARED, openPostgres, preparedNames } from '../../src/server/db/database.js';
import { onPostgres, testDatabase } from '../helpers/central.js';

describe('preparedNames', () => {
  it('names each distinct text once, the same name every time, and no more than its bound', () => {
    const name = preparedNames(2);
    const a = name('SELECT 1');
    const b = name('SELECT 2');
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
    expect(name('SELECT 1')).toBe(a);
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
});
