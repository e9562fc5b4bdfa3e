/**
 * The convergence audit end to end: a till syncs with a real central (PGlite, or
 * PostgreSQL with TEST_DATABASE_URL), the audit finds every table in step; then rows
 * are changed behind sync's back on each side (SQL at central with its triggers off,
 * so no version bump and no change log; SQLite with capture off) and the audit finds
 * exactly those rows, tells a change still waiting for central apart from a
 * difference, and never looks at another store's rows. Bad input to the endpoint is a
 * 400 naming the problem.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/main/sync/audit.js';
import type { AuditReport, AuditTableReport } from '../../src/shared/audit-protocol.js';
import { entryForTable } from '../../src/shared/catalog/index.js';
import { useCentral } from '../helpers/central.js';
import { errorShapeProblems } from '../helpers/hostile.js';
import { mulberry32 } from '../../src/shared/prng.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';

afterAll(closeAll);

const table = (r: AuditReport, name: string): AuditTableReport => {
  const t = r.tables.find((x) => x.table === name);
  if (!t) throw new Error(`no ${name} in the report`);
  return t;
};
const audit = (e: TerminalEngine, tableName?: string) =>
  runAudit({ store: e.store, client: e.service.client, terminalId: e.terminal.terminalId, table: tableName });

describe('tillsync audit', () => {
  const c = useCentral();

  /** Central SQL that no trigger sees: no version bump, no change log, no hint (sync never learns of it). */
  const behindCentral = (sql: string, params: unknown[]) =>
    c.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query(sql, params);
    });
  /** A till write with capture off (as an apply transaction): never queued for central. */
  const behindTill = (e: TerminalEngine, sql: string, params: unknown[]) => {
    const pos = e.pos();
    pos.transaction(() => {
      pos.prepare('UPDATE tillsync_control SET applying = 1 WHERE id = 1').run();
      pos.prepare(sql).run(...params);
      pos.prepare('UPDATE tillsync_control SET applying = 0 WHERE id = 1').run();
    })();
  };

  it('finds a synced till in step, then exactly the rows changed behind sync on either side', async () => {
    const tag = randomUUID().slice(0, 8);
    const ids = Array.from({ length: 150 }, (_, i) => `aud-${tag}-${String(i).padStart(3, '0')}`);
    for (const [i, id] of ids.entries()) {
      await c.db.query(`INSERT INTO products (id, sku, name, price, active, created_at) VALUES ($1, $2, $3, $4, true, '2026-03-04T05:06:07.891Z')`, [
        id,
        `SKU-${id}`,
        `Product ${i}`,
        (i % 7) + 0.25,
      ]);
    }
    const e = await startEngine(c, { initialSync: true });
    // Another store's stock at central: outside this till's scope, never compared.
    const other = await c.provision(`other-${tag}`);
    await c.db.query(`INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $3, 5), ($4, $5, $3, 7)`, [
      `inv-other-${tag}`,
      other.storeId,
      ids[0],
      `inv-mine-${tag}`,
      e.terminal.storeId,
    ]);
    // A customer made at the till and pushed: the till's own rows are compared too.
    e.pos().prepare(`INSERT INTO customers (name, loyalty_points, total_spent, created_at) VALUES ('Ada', 3, 12.5, datetime('now'))`).run();
    const sync = await e.sync();
    expect(sync.errors).toEqual([]);

    const inStep = await audit(e);
    expect(inStep.inStep, JSON.stringify(inStep.tables.filter((t) => t.outcome !== 'in_step' && t.outcome !== 'not_compared'))).toBe(true);
    const products = table(inStep, 'products');
    expect(products).toMatchObject({ outcome: 'in_step', requests: 1, differences: [], pending: 0 });
    expect(products.tillRows).toBe(products.centralRows);
    expect(products.tillRows).toBeGreaterThanOrEqual(150);
    expect(table(inStep, 'inventory_items')).toMatchObject({ outcome: 'in_step', tillRows: 1, centralRows: 1 });
    expect(table(inStep, 'customers')).toMatchObject({ outcome: 'in_step', tillRows: 1, centralRows: 1 });
    expect(table(inStep, 'orders')).toMatchObject({ outcome: 'not_compared' });
    expect(table(inStep, 'orders').reason).toMatch(/direction up/);

    // Behind sync's back: central changes a price and hard-deletes a product; a product appears at
    // central without a change log; the till edits a name and drops a product, all unseen by sync.
    await behindCentral('UPDATE products SET price = 99 WHERE id = $1', [ids[10]]);
    await behindCentral('DELETE FROM products WHERE id = $1', [ids[20]]);
    const ghost = `aud-${tag}-ghost`;
    await behindCentral(`INSERT INTO products (id, sku, name, price, sync_version) VALUES ($1, $2, 'Ghost', 1, 1)`, [ghost, `SKU-${ghost}`]);
    behindTill(e, 'UPDATE products SET name = ? WHERE server_id = ?', ['Renamed at the till', ids[30]]);
    behindTill(e, 'DELETE FROM products WHERE server_id = ?', [ids[40]]);
    // A version the till holds that central does not (the content equal).
    e.pos().prepare('UPDATE tillsync_row_state SET version = version + 5 WHERE table_name = ? AND server_id = ?').run('products', ids[50]);
    // And a change the POS made that has not reached central yet: pending, not a difference.
    e.pos().prepare('UPDATE products SET description = ? WHERE server_id = ?').run('on sale', ids[60]);

    const differs = await audit(e);
    expect(differs.inStep).toBe(false);
    const p = table(differs, 'products');
    expect(p.outcome).toBe('differs');
    const found = Object.fromEntries(p.differences.map((d) => [d.id, d.kind]));
    expect(found).toEqual({
      [ids[10] as string]: 'different_content',
      [ids[20] as string]: 'missing_at_central',
      [ghost]: 'missing_at_till',
      [ids[30] as string]: 'different_content',
      [ids[40] as string]: 'missing_at_till',
      [ids[50] as string]: 'different_version',
    });
    expect(p.differencesTotal).toBe(6);
    expect(p.pending).toBe(1);
    expect(p.pendingIds).toEqual([ids[60]]);
    // Bisected: a handful of requests, not one per row.
    expect(p.requests).toBeGreaterThan(1);
    expect(p.requests).toBeLessThan(10);
    // Every other table is still in step.
    expect(differs.tables.filter((t) => t.outcome !== 'in_step' && t.outcome !== 'not_compared').map((t) => t.table)).toEqual(['products']);

    // --table audits one table only.
    const one = await audit(e, 'Customer');
    expect(one.tables.map((t) => t.table)).toEqual(['customers']);
    expect(one.inStep).toBe(true);
  });

  it('answers bad input with a 400 that says what is wrong, and keeps terminals to themselves', async () => {
    const t = await c.provision(`bad-${randomUUID().slice(0, 8)}`);
    const body = (over: Record<string, unknown>) => ({ terminalId: t.terminalId, entityType: 'Product', ranges: [{ after: null, upTo: null }], ...over });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ranges: [] }, /ranges/],
      [{ ranges: [{ after: 'b', upTo: 'a' }] }, /after must sort before upTo/],
      [{ ranges: [{ after: 'a', upTo: 'a' }] }, /after must sort before upTo/],
      [{ ranges: Array.from({ length: 65 }, () => ({ after: null, upTo: null })) }, /at most 64 ranges/],
      [{ ranges: [{ after: 'x'.repeat(201), upTo: null }] }, /ranges/],
      [{ ranges: [{ after: 'a\u0000', upTo: null }] }, /NUL/],
      [{ ranges: [{ after: null }] }, /upTo/],
      [{ fanOut: 1 }, /fanOut/],
      [{ listUpTo: 100_000 }, /listUpTo/],
      [{ entityType: 'Nope' }, /unknown entity type/],
      [{ extra: 1 }, /extra/],
    ];
    for (const [over, message] of cases) {
      const r = await t.api.post('/api/sync/audit', body(over));
      expect(r.status, JSON.stringify(over)).toBe(400);
      expect(JSON.stringify(r.body), JSON.stringify(over)).toMatch(message);
    }
    const up = await t.api.post('/api/sync/audit', body({ entityType: 'SaleOrder' }));
    expect(up.status).toBe(400);
    expect(up.body).toMatchObject({ code: 'NOT_PULLED' });
    const drift = await t.api.post('/api/sync/audit', body({ schemaHash: 'not-the-hash' }));
    expect(drift.status).toBe(409);
    expect(drift.body).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    const other = await c.provision(t.storeId);
    const wrong = await t.api.post('/api/sync/audit', body({ terminalId: other.terminalId }));
    expect(wrong.status).toBe(403);
    // Generated hostile bodies (seeded): every one a 4xx in the documented shape, or a 200; never a 5xx.
    const seed = Number(process.env.TILLSYNC_AUDIT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`audit endpoint hostile-input seed ${seed}`);
    const rnd = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const values: unknown[] = [null, '', 'a', '\u0000', '\ud800', 'é'.repeat(300), -1, 0, 1.5, 2 ** 60, true, [], {}, [[[[[]]]]], { after: 'a' }, 'x'.repeat(10_000)];
    const bound = () => pick<unknown>([null, null, 'a', 'm', 'z', '\u{10000}', '\uffff', ...values]);
    for (let i = 0; i < 200; i++) {
      const b: Record<string, unknown> = {
        terminalId: pick<unknown>([t.terminalId, t.terminalId, t.terminalId, ...values]),
        entityType: pick<unknown>(['Product', 'Store', 'InventoryItem', 'Customer', 'SaleOrder', ...values]),
        ranges: pick<unknown>([Array.from({ length: Math.floor(rnd() * 4) }, () => ({ after: bound(), upTo: bound() })), ...values]),
      };
      if (rnd() < 0.3) b.fanOut = pick<unknown>([2, 64, 65, ...values]);
      if (rnd() < 0.3) b.listUpTo = pick<unknown>([0, 256, 257, ...values]);
      if (rnd() < 0.1) delete b[pick(['terminalId', 'entityType', 'ranges'])];
      const r = await fetch(`${c.url}/api/sync/audit`, { method: 'POST', headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(b) });
      const text = await r.text();
      expect(r.status, `seed ${seed} #${i}: ${JSON.stringify(b).slice(0, 300)} -> ${text.slice(0, 300)}`).toBeLessThan(500);
      if (r.status !== 200) expect(errorShapeProblems(r.status, r.headers.get('content-type') ?? undefined, text), `seed ${seed} #${i}`).toEqual([]);
    }
    // The admin token names the terminal it audits for.
    const admin = await c.admin.post('/api/sync/audit', body({ schemaHash: entryForTable('products')?.schemaHash }));
    expect(admin.status).toBe(200);
    expect(admin.body).toMatchObject({ terminalId: t.terminalId, entityType: 'Product', ranges: [{ complete: true }] });
  });
});
