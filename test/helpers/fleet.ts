/** Helpers for tests of HQ's fleet view and of tills HQ talks to over their socket. */
import type { TestCentral } from './central.js';
import type { TerminalEngine } from './engine.js';
import { waitUntil } from './processes.js';

/** The local id of the store row the engine pulled (sales reference it). */
export function localStoreId(e: TerminalEngine): number {
  const r = e.pos().prepare('SELECT id FROM stores WHERE server_id = ?').get(e.terminal.storeId) as { id: number } | undefined;
  if (!r) throw new Error('the store row was not pulled');
  return r.id;
}

/** Sum of the till's completed orders' totals whose number starts with `prefix`, to the cent. */
export function completedTotal(e: TerminalEngine, prefix: string): number {
  const r = e.pos().prepare(`SELECT sum(total) AS t FROM orders WHERE status = 'completed' AND order_number LIKE ?`).get(`${prefix}%`) as { t: number };
  return Math.round(r.t * 100) / 100;
}

/** Waits until central lists the till's socket as connected (registered for triggers and hints). */
export function socketRegistered(c: Pick<TestCentral, 'admin'>, terminalId: string): Promise<true> {
  return waitUntil(
    'the socket registered',
    async () => (await c.admin.get<{ terminals?: { terminalId: string; connected: boolean }[] }>('/api/terminals')).body.terminals?.some((t) => t.terminalId === terminalId && t.connected) || undefined,
    { timeout: 10_000 },
  );
}
