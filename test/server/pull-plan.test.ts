/**
 * A pull page walks the cursor index in order and stops at the limit, even right
 * after a bulk import when the planner has no statistics yet (it would otherwise
 * fetch every later change and sort them, making each page cost the rest of the
 * table and a first sync of a big catalogue quadratic). Checked on the plan the
 * database itself chooses, on PGlite and on PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { PULL_PLAN_HINTS, pullPageSql } from '../../src/server/services/pull.js';
import { useCentral } from '../helpers/central.js';

const c = useCentral();

describe('pull page plan', () => {
  it('after a bulk import (no ANALYZE), a page is an ordered index scan with no sort, scoped or not', async () => {
    await c.db.query(
      `INSERT INTO products (id, sku, name, price, active, created_at, updated_at)
       SELECT 'plan-' || lpad(i::text, 6, '0'), 'PLAN-' || i, 'Product ' || i, 1.5, true, now(), now() FROM generate_series(1, 20000) i`,
    );
    const after = (await c.db.query<{ txid: string; seq: string }>(`SELECT txid::text AS txid, seq::text AS seq FROM sync_changes WHERE entity_type = 'Product' ORDER BY txid, seq OFFSET 1000 LIMIT 1`)).rows[0];
    expect(after).toBeDefined();
    for (const scoped of [false, true]) {
      const params: unknown[] = ['Product', after?.txid, after?.seq, 500, null, ...(scoped ? ['store-1'] : [])];
      const plan = await c.db.transaction(async (tx) => {
        await tx.query(PULL_PLAN_HINTS);
        const r = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${pullPageSql(scoped)}`, params);
        return r.rows.map((x) => x['QUERY PLAN']).join('\n');
      });
      expect(plan).toMatch(/Index Scan using sync_changes_cursor_idx/);
      expect(plan).not.toMatch(/Sort|Bitmap/);
    }
    // The hints hold for that transaction only: the session's planner settings are untouched.
    expect((await c.db.query<{ v: string }>(`SELECT current_setting('enable_sort') AS v`)).rows[0]?.v).toBe('on');
  });
});
