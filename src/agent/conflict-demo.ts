/**
 * `tillsync simulate --conflict`: one real conflict, for trying the merge editor.
 *
 * The till (the POS simulator, plain SQL) drafts a purchase order, a MANUAL_MERGE
 * table, and waits until its engine has pushed it to central. Then the cashier edits
 * the order while HQ changes central's copy of it: the POS holds its database's write
 * lock from before its edit until HQ's change is at central (HQ writes through the
 * admin path: the admin token pushes an update acting as the till's terminal), so the
 * till's edit is based on the version HQ replaced whatever the engine does meanwhile.
 * The engine's next push (or the pull that brings HQ's version first) meets HQ's
 * version, and central parks the order for a supervisor: one open conflict, in the
 * companion's Conflicts screen and at central (`GET /api/sync/conflicts?status=open`).
 * An engine must be running on the database (the agent, or the companion as in
 * `npm start`).
 */
import { randomUUID } from 'node:crypto';
import { PushResponse } from '../shared/protocol.js';
import type { PosSimulator } from './simulator.js';

export interface ConflictDemoOptions {
  readonly centralUrl: string;
  readonly adminToken: string;
  readonly terminalId: string;
  /** How long to wait for the engine at each step (default 60 s). */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Progress, for the log. */
  readonly onStep?: (step: string, detail: Record<string, unknown>) => void;
}

export interface ConflictDemoResult {
  readonly entityType: 'PurchaseOrder';
  /** Central's id of the purchase order. */
  readonly entityId: string;
  readonly poNumber: string;
  /** Central's conflict id (as the engine recorded it when central parked the change). */
  readonly conflictId: string;
}

const POLL_MS = 100;

async function until<T>(what: string, probe: () => T | null, opts: ConflictDemoOptions): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    const v = probe();
    if (v !== null) return v;
    if (opts.signal?.aborted) throw new Error(`stopped while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; is an engine (tillsync agent, or the companion) running on this database?`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** HQ's change of central's copy: an update pushed with the admin token, on the version central has. */
async function hqChange(opts: ConflictDemoOptions, entityId: string, version: number): Promise<void> {
  const res = await fetch(new URL('/api/sync/push', opts.centralUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      terminalId: opts.terminalId,
      changes: [
        {
          changeId: randomUUID(),
          entityType: 'PurchaseOrder',
          entityId,
          operation: 'UPDATE',
          syncVersion: version,
          data: { notes: 'changed at HQ: supplier asked for a later delivery', expected_at: new Date(Date.now() + 14 * 86_400_000).toISOString(), updated_at: new Date().toISOString() },
        },
      ],
    }),
    signal: AbortSignal.timeout(3000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`central refused HQ's change (${res.status}): ${text.slice(0, 300)}`);
  const answer = PushResponse.parse(JSON.parse(text)).results[0];
  if (answer?.status !== 'applied') throw new Error(`HQ's change was not applied at central: ${JSON.stringify(answer).slice(0, 300)}`);
}

/** Makes one open conflict (see the file comment) and says which. */
export async function makeConflict(sim: PosSimulator, opts: ConflictDemoOptions): Promise<ConflictDemoResult> {
  const po = await until('a store row (has the terminal pulled its store?)', () => sim.draftPurchaseOrder(), opts);
  opts.onStep?.('purchase order drafted at the till', { poNumber: po.poNumber });
  // A created row is version 1 at central.
  const entityId = await until(
    `the engine to push purchase order ${po.poNumber}`,
    () => {
      const s = sim.syncState('purchase_orders', po.id);
      return s.outboxStatus === 'synced' && s.serverId ? s.serverId : null;
    },
    opts,
  );
  opts.onStep?.('purchase order at central', { entityId });
  await sim.editPurchaseOrderWhile(po.id, 'edited at the till: ordered now, two more cases', () => hqChange(opts, entityId, 1));
  opts.onStep?.('edited at the till while HQ changed it at central', { entityId });
  const conflictId = await until(
    'central to park the till\'s edit',
    () => {
      const s = sim.syncState('purchase_orders', po.id);
      return s.outboxStatus === 'conflict' && s.conflictId ? s.conflictId : null;
    },
    opts,
  );
  return { entityType: 'PurchaseOrder', entityId, poNumber: po.poNumber, conflictId };
}
