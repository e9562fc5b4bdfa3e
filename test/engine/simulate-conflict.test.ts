/**
 * `tillsync simulate --conflict` beside a running agent, as a user tries the merge
 * editor on the demo: the till drafts a purchase order, the cashier edits it while HQ
 * changes central's copy, and exactly one conflict is left open, the same one at the
 * till (the engine's conflicts, what the companion's Conflicts screen lists) and at
 * central (GET /api/sync/conflicts).
 */
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { ADMIN_TOKEN, useCentral } from '../helpers/central.js';
import { agentEnv, cleanEnv, killAll, newTerminalDb, openReader, runTillsync, startAgent, tempDir, waitUntil } from '../helpers/processes.js';

const central = useCentral();
const dir = tempDir('tillsync-conflict-demo-');
afterEach(killAll);
afterAll(() => dir.remove());

interface CentralConflict {
  conflictId: string;
  entityType: string;
  entityId: string;
  terminalId: string;
  status: string;
  terminal: Record<string, unknown> | null;
  central: Record<string, unknown> | null;
}

it('leaves exactly one open conflict, a purchase order parked at central, seen at the till and at central', { timeout: 120_000 }, async () => {
  const t = await central.provision('conflict-demo-store', 'conflict-demo-till');
  const path = await newTerminalDb(join(dir.path, 'pos.db'));
  const settings = { databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId };
  const agent = startAgent(settings);
  // The till has its store from central (the simulator drafts the order in it).
  await waitUntil(
    'the till to pull its store',
    () => {
      const db = openReader(path);
      try {
        return (db.prepare('SELECT count(*) AS n FROM stores WHERE server_id IS NOT NULL').get() as { n: number }).n > 0;
      } finally {
        db.close();
      }
    },
    { timeout: 30_000, interval: 100, diagnose: () => agent.tail() },
  );

  const r = await runTillsync(['simulate', '--conflict'], agentEnv(settings, { TILLSYNC_ADMIN_TOKEN: ADMIN_TOKEN }), 90_000);
  expect(r.code, `${r.stdout}\n${r.stderr}\n${agent.tail()}`).toBe(0);
  const made = JSON.parse(r.stdout.trim()) as { entityType: string; entityId: string; conflictId: string; poNumber: string };
  expect(made.entityType).toBe('PurchaseOrder');

  // Central: one open conflict, this order's, with the till's edit and HQ's change side by side.
  const open = await central.admin.get<{ conflicts: CentralConflict[] }>('/api/sync/conflicts', { status: 'open' });
  expect(open.status, open.text).toBe(200);
  expect(open.body.conflicts).toHaveLength(1);
  const [atCentral] = open.body.conflicts;
  expect(atCentral).toMatchObject({ conflictId: made.conflictId, entityType: 'PurchaseOrder', entityId: made.entityId, terminalId: t.terminalId, status: 'open' });
  expect(atCentral?.terminal?.notes).toMatch(/at the till/);
  expect(atCentral?.central?.notes).toMatch(/at HQ/);
  expect(atCentral?.terminal?.po_number).toBe(made.poNumber);
  // The terminal's own view at central says the same.
  const seenByTill = await t.api.get<{ conflicts: CentralConflict[] }>('/api/sync/conflicts', { status: 'open' });
  expect(seenByTill.body.conflicts.map((c) => c.conflictId)).toEqual([made.conflictId]);

  // The till: the engine's open conflicts (the companion's Conflicts screen) hold that one, parked at central.
  expect(await agent.stop()).toMatchObject({ code: 0 });
  const store = new LocalStore(path, t.terminalId);
  try {
    const atTill = store.conflicts.openConflicts();
    expect(atTill).toHaveLength(1);
    expect(atTill[0]).toMatchObject({ conflictId: made.conflictId, entityType: 'PurchaseOrder', entityId: made.entityId, status: 'open', atCentral: true });
  } finally {
    store.close();
  }
});

it('refuses --conflict without the admin token, naming it (exit code 2)', async () => {
  const r = await runTillsync(['simulate', '--conflict', '--database', join(dir.path, 'none.db'), '--central-url', central.url, '--terminal-id', 'till-x'], cleanEnv());
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^--admin-token \(TILLSYNC_ADMIN_TOKEN\): /);
});
