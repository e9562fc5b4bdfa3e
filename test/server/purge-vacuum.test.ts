/**
 * The purge makes the space of what it removed reusable (VACUUM of the tables it
 * removed rows from): under a steady churn of price updates, the change log stays its
 * size on disk, not only in rows. Embedded PGlite has no autovacuum, so without this its
 * files would grow however often the purge ran. Real database (PGlite, or PostgreSQL
 * with TEST_DATABASE_URL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settled } from '../helpers/sync.js';
import { bumpPrices, freshCentral, insertProducts, type Fixture } from './purge-helpers.js';

let f: Fixture;
beforeAll(async () => {
  f = await freshCentral();
});
afterAll(async () => {
  await f?.close();
});

const ids = Array.from({ length: 500 }, (_, i) => `vac-${i}`);
const logBytes = async () =>
  Number((await f.td.db.query<{ n: number }>(`SELECT pg_relation_size('sync_changes')::bigint AS n`)).rows[0]?.n);

describe('the purge vacuums what it removed', () => {
  it('round after round of updates leave the change log no bigger on disk', async () => {
    await insertProducts(f.td.db, ids);
    const sizes: number[] = [];
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 5; i++) await bumpPrices(f.td.db, ids);
      // Compaction needs the later entries below every running transaction on the server.
      await settled({ db: f.td.db });
      const report = await f.c.central.purge.run();
      expect(report?.removed.compacted).toBeGreaterThan(0);
      sizes.push(await logBytes());
    }
    // One entry per row after each purge; the space of the removed ones is reused by the next round's.
    expect(Number((await f.td.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM sync_changes WHERE entity_type = 'Product'`)).rows[0]?.n)).toBe(ids.length);
    expect(sizes.at(-1), `sizes after each round: ${sizes.join(', ')}`).toBeLessThanOrEqual(sizes[1] as number);
  });
});
