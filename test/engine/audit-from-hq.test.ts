/**
 * The console runs the audit too: HQ asks a till (a sync trigger with reason AUDIT,
 * POST /api/sync/all), the till syncs, audits and hands its report to central, and
 * GET /api/fleet/terminals/:terminalId/audit shows it. A report is the till's own: another
 * terminal's key cannot file one, and an oversized one is refused.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { LastAuditResponse, REPORTED_DIFFERENCES, trimAudit, type AuditReport } from '../../src/shared/audit-protocol.js';
import { socketRegistered } from '../helpers/fleet.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, engineConfig, startEngine, testLogger } from '../helpers/engine.js';
import { waitUntil } from '../helpers/processes.js';

const c = useCentral();
const running: SyncService[] = [];
afterAll(async () => {
  for (const s of running) await s.stop();
  await closeAll();
});

async function lastAudit(terminalId: string): Promise<LastAuditResponse> {
  const r = await c.admin.get(`/api/fleet/terminals/${terminalId}/audit`);
  expect(r.status, r.text).toBe(200);
  return LastAuditResponse.parse(r.body);
}

describe('an audit HQ asks for', () => {
  it('is run by the till after a sync and shown at HQ: in step, then the row changed behind sync', async () => {
    const product = randomUUID();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Tea', 3)`, [product, `AUD-${product.slice(0, 6)}`]);
    const e = await startEngine(c, { initialSync: true });
    await e.service.stop();
    const service = new SyncService(e.store, engineConfig(c.url, e.terminal.apiKey, { realtime: true, syncInterval: 3600, heartbeatInterval: 3600 }), testLogger());
    running.push(service);
    await service.initialize(e.terminal.terminalId);
    await socketRegistered(c, e.terminal.terminalId);
    expect(await lastAudit(e.terminal.terminalId)).toEqual({ terminalId: e.terminal.terminalId, receivedAt: null, report: null });

    const ask = async () => {
      const before = (await lastAudit(e.terminal.terminalId)).receivedAt;
      const r = await c.admin.post('/api/sync/all', { terminalId: e.terminal.terminalId, type: 'FULL', reason: 'AUDIT' });
      expect(r.status, r.text).toBe(200);
      return waitUntil('the till reported its audit', async () => {
        const a = await lastAudit(e.terminal.terminalId);
        return a.receivedAt !== before ? a : undefined;
      }, { timeout: 20_000 });
    };

    const first = await ask();
    expect(first.report?.terminalId).toBe(e.terminal.terminalId);
    expect(first.report?.inStep).toBe(true);
    expect(first.report?.tables.find((t) => t.entityType === 'Product')).toMatchObject({ outcome: 'in_step' });

    // The till's copy changed behind sync (capture off, as a restore from an old backup would).
    e.store.base.applying(() => e.store.base.db.prepare(`UPDATE products SET name = 'Tampered' WHERE server_id = ?`).run(product));
    const second = await ask();
    expect(second.report?.inStep).toBe(false);
    const products = second.report?.tables.find((t) => t.entityType === 'Product');
    expect(products).toMatchObject({ outcome: 'differs', differencesTotal: 1 });
    expect(products?.differences).toEqual([expect.objectContaining({ id: product, kind: 'different_content' })]);
  });
});

describe('POST /api/sync/audit-report', () => {
  const report = (terminalId: string, differences: number): AuditReport => ({
    terminalId,
    centralUrl: 'http://x',
    startedAt: new Date().toISOString(),
    durationMs: 1,
    inStep: differences === 0,
    tables: [
      {
        table: 'products',
        entityType: 'Product',
        outcome: differences === 0 ? 'in_step' : 'differs',
        reason: null,
        tillRows: 10,
        centralRows: 10,
        pending: 0,
        pendingIds: [],
        unsent: 0,
        differences: Array.from({ length: differences }, (_, i) => ({ id: `p-${i}`, kind: 'different_content' as const, tillVersion: 1, centralVersion: 2 })),
        differencesTotal: differences,
        requests: 3,
      },
    ],
  });

  it("keeps a till's report with every count and at most 20 listed rows a table; refuses another terminal's key and bad input", async () => {
    const a = await c.provision(`ar-${randomUUID().slice(0, 6)}`);
    const b = await c.provision(`ar-${randomUUID().slice(0, 6)}`);
    const sent = report(a.terminalId, 50);
    const ok = await a.api.post('/api/sync/audit-report', { terminalId: a.terminalId, report: sent });
    expect(ok.status, ok.text).toBe(200);
    const kept = await lastAudit(a.terminalId);
    expect(kept.report?.tables[0]?.differences).toHaveLength(REPORTED_DIFFERENCES);
    expect(kept.report?.tables[0]?.differencesTotal).toBe(50);
    expect(kept.report).toEqual(trimAudit(sent));

    expect((await b.api.post('/api/sync/audit-report', { terminalId: a.terminalId, report: report(a.terminalId, 0) })).status).toBe(403);
    const tooMany = { ...report(a.terminalId, 0), tables: Array.from({ length: 201 }, () => report(a.terminalId, 0).tables[0]) };
    for (const body of [{ terminalId: a.terminalId, report: tooMany }, { terminalId: a.terminalId }, { terminalId: a.terminalId, report: { inStep: true } }, { terminalId: a.terminalId, report: report(a.terminalId, 0), extra: 1 }]) {
      expect((await a.api.post('/api/sync/audit-report', body)).status).toBe(400);
    }
    expect(await lastAudit(a.terminalId)).toEqual(kept);
    expect((await a.api.get(`/api/fleet/terminals/${a.terminalId}/audit`)).status).toBe(403);
    expect((await c.admin.get('/api/fleet/terminals/no-such-till/audit')).status).toBe(404);
  });
});
