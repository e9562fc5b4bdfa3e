/**
 * A change central refuses with MISSING_PARENT (its parent is not at central yet: it is
 * behind in the queue, or in a batch that failed) waits and goes again with backoff, as
 * after a failed push, instead of being failed for good; it is failed only once it has
 * used up its attempts. Other refusals still fail at once.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { PushResponse } from '../../src/shared/protocol.js';
import { closeAll, openPos, tempDir } from '../helpers/engine.js';
import { join } from 'node:path';

afterAll(closeAll);

function refused(batch: ReturnType<LocalStore['batches']['nextBatch']>, code: string): PushResponse {
  return {
    terminalId: 't1',
    results: batch.changes.map((c) => ({
      changeId: c.change.changeId as string,
      entityType: c.change.entityType,
      entityId: c.change.entityId,
      status: 'rejected' as const,
      version: null,
      error: { code, message: `${code} for the test` },
    })),
    summary: { applied: 0, duplicate: 0, conflict: 0, rejected: batch.changes.length },
    serverTime: new Date().toISOString(),
  };
}

describe('a failed push', () => {
  it("backs off a sale's order, items and payment together: they come due at once and travel together again", () => {
    const path = join(tempDir(), 'pos.sqlite');
    const store = new LocalStore(path, 't1', { create: true });
    try {
      const pos = openPos(path);
      pos.transaction(() => {
        const order = pos.prepare(`INSERT INTO orders (order_number, status, total) VALUES ('GRP-1', 'completed', 20)`).run().lastInsertRowid;
        for (let i = 0; i < 3; i++) pos.prepare(`INSERT INTO order_items (order_id, description, quantity) VALUES (?, 'line', 1)`).run(order);
        pos.prepare(`INSERT INTO payments (order_id, method, amount) VALUES (?, 'cash', 20)`).run(order);
      })();
      pos.close();
      const now = Date.now();
      const batch = store.batches.nextBatch({ limit: 100, minPriority: 0, now, pausedTables: new Set() });
      expect(batch.changes).toHaveLength(5);
      expect(store.answers.recordPushFailure(batch, 'central unreachable', { maxRetries: 3, retryDelayMs: 1000, now })).toBe(0);
      const due = store.base.db.prepare(`SELECT DISTINCT next_attempt_at AS t FROM tillsync_outbox`).all() as { t: number }[];
      expect(due).toHaveLength(1);
      const again = store.batches.nextBatch({ limit: 100, minPriority: 0, now: (due[0]?.t as number) + 1, pausedTables: new Set() });
      expect(again.changes.map((c) => c.entry.table).sort()).toEqual(['order_items', 'order_items', 'order_items', 'orders', 'payments']);
    } finally {
      store.close();
    }
  });
});

describe('MISSING_PARENT', () => {
  it('waits with backoff and goes again; failed only after its attempts; another refusal fails at once', () => {
    const path = join(tempDir(), 'pos.sqlite');
    const store = new LocalStore(path, 't1', { create: true });
    try {
      const pos = openPos(path);
      pos.prepare(`INSERT INTO customers (name, loyalty_points) VALUES ('Waits', 0)`).run();
      pos.close();
      const retry = { maxRetries: 3, retryDelayMs: 1000 };
      let now = Date.now();
      for (let attempt = 1; attempt <= 3; attempt++) {
        const batch = store.batches.nextBatch({ limit: 10, minPriority: 0, now, pausedTables: new Set() });
        expect(batch.changes).toHaveLength(1);
        const r = store.answers.recordPush(batch, refused(batch, 'MISSING_PARENT'), 60_000, { ...retry, now });
        const row = store.base.db.prepare(`SELECT status, next_attempt_at, last_error FROM tillsync_outbox`).get() as { status: string; next_attempt_at: number | null; last_error: string };
        if (attempt < 3) {
          expect(r.failed).toBe(0);
          expect(row.status).toBe('pending');
          expect(row.next_attempt_at).toBeGreaterThan(now);
          expect(row.last_error).toContain('MISSING_PARENT');
          expect(store.batches.nextBatch({ limit: 10, minPriority: 0, now, pausedTables: new Set() }).changes).toHaveLength(0); // not before it is due
          now = (row.next_attempt_at as number) + 1;
        } else {
          expect(r.failed).toBe(1);
          expect(row.status).toBe('failed');
        }
      }

      const other = openPos(path);
      other.prepare(`INSERT INTO customers (name, loyalty_points) VALUES ('Refused', 0)`).run();
      other.close();
      const batch = store.batches.nextBatch({ limit: 10, minPriority: 0, now, pausedTables: new Set() });
      expect(store.answers.recordPush(batch, refused(batch, 'FORBIDDEN_STORE'), 60_000, { ...retry, now }).failed).toBe(1);
    } finally {
      store.close();
    }
  });
});
