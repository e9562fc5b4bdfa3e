/**
 * The suite's central databases (test/helpers/central.ts's testDatabase): copies of one
 * that holds central's schema, made once per run (a PGlite dump per worker, a PostgreSQL
 * template per run), or empty when a test of the migrations asks.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CENTRAL_MIGRATIONS, migrate } from '../../src/server/db/migrate.js';
import { testDatabase, type TestDatabase } from '../helpers/central.js';
import { leftoversOfRuns } from '../helpers/run-leftovers.js';

const MIGRATIONS = readdirSync(CENTRAL_MIGRATIONS).filter((f) => f.endsWith('.sql')).length;

describe('test databases', () => {
  const open: TestDatabase[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
  });

  it("start with this build's schema and nothing else: no migration left to apply, no rows", async () => {
    const t = await testDatabase();
    open.push(t);
    expect(await migrate(t.db)).toBe(0);
    const r = await t.db.query<{ n: number }>('SELECT (SELECT count(*) FROM stores)::int + (SELECT count(*) FROM sync_terminals)::int + (SELECT count(*) FROM products)::int AS n');
    expect(r.rows[0]?.n).toBe(0);
  });

  it('are each their own: a row written in one is not in the next', async () => {
    const a = await testDatabase();
    open.push(a);
    await a.db.query(`INSERT INTO stores (id, name) VALUES ('only-in-a', 'A')`);
    const b = await testDatabase();
    open.push(b);
    const r = await b.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM stores WHERE id = 'only-in-a'`);
    expect(r.rows[0]?.n).toBe(0);
  });

  it('blank: empty, every migration still to apply', async () => {
    const t = await testDatabase({ blank: true });
    open.push(t);
    expect(await migrate(t.db)).toBe(MIGRATIONS);
  });
});

describe("a run's leftovers", () => {
  it("are those named after a run that is gone, never a running run's nor another name", () => {
    const names = ['tpl_100', 'tpl_200', 'tpl_x1', 'tpl_', 'other_100', 'tpl_300'];
    expect(leftoversOfRuns(names, 'tpl_', (pid) => pid === 200)).toEqual(['tpl_100', 'tpl_x1', 'tpl_', 'tpl_300']);
  });
});
