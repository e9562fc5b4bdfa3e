/** The outbox entry's status transitions (a pure table), and the SQL built from it doing what the table says. */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  STATUSES,
  TRANSITIONS,
  TRANSITION_NAMES,
  appliesTo,
  setSql,
  step,
  whereSql,
  type EntryState,
  type EntryStatus,
  type TransitionName,
} from '../../src/main/sync/store/outbox-status.js';

const status = fc.constantFrom<EntryStatus>(...STATUSES);
const transition = fc.constantFrom<TransitionName>(...TRANSITION_NAMES);
const entry = fc.record({ status, attempts: fc.nat({ max: 20 }) }) as fc.Arbitrary<EntryState>;

describe('outbox status transitions', () => {
  it('a transition leaves an entry it does not apply to exactly as it was', () => {
    fc.assert(
      fc.property(entry, transition, (e, t) => {
        fc.pre(!appliesTo(t, e.status));
        expect(step(e, t)).toEqual(e);
      }),
    );
  });

  it('only "retry" (from failed) and "resend" (from synced, after central was restored) bring an entry back to pending, with fresh attempts', () => {
    fc.assert(
      fc.property(entry, transition, (e, t) => {
        const after = step(e, t);
        if (e.status !== 'pending' && after.status === 'pending') {
          expect(['retry', 'resend']).toContain(t);
          expect(e.status).toBe(t === 'retry' ? 'failed' : 'synced');
          expect(after.attempts).toBe(0);
        }
      }),
    );
  });

  it('every named transition lands in its target status (the status part is idempotent)', () => {
    fc.assert(
      fc.property(entry, transition, (e, t) => {
        const once = step(e, t);
        expect(step(once, t).status).toBe(once.status);
        const to: string = TRANSITIONS[t].to;
        if (appliesTo(t, e.status)) expect(once.status).toBe(to === 'same' ? e.status : to);
      }),
    );
  });

  it('attempts never go below zero, and count up by one per counted attempt', () => {
    fc.assert(
      fc.property(entry, fc.array(transition, { maxLength: 30 }), (e, ts) => {
        let s = e;
        for (const t of ts) {
          const next = step(s, t);
          expect(next.attempts).toBeGreaterThanOrEqual(0);
          if (appliesTo(t, s.status) && TRANSITIONS[t].attempts === 'count') expect(next.attempts).toBe(s.attempts + 1);
          s = next;
        }
      }),
    );
  });

  it('a synced entry is never pending again without first failing and being retried, or central being restored (resend)', () => {
    fc.assert(
      fc.property(fc.array(transition, { maxLength: 30 }), (ts) => {
        let s: EntryState = { status: 'synced', attempts: 1 };
        let failedSince = false;
        for (const t of ts) {
          const next = step(s, t);
          if (next.status === 'failed') failedSince = true;
          // Becoming pending again (not staying pending) is only ever a retry of a failed entry.
          if (next.status === 'pending' && s.status !== 'pending') expect((failedSince && t === 'retry') || (s.status === 'synced' && t === 'resend')).toBe(true);
          s = next;
        }
      }),
    );
  });

  it('the SQL built from the table does to a row what step() does to an entry', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE tillsync_outbox (id INTEGER PRIMARY KEY, status TEXT NOT NULL, attempts INTEGER NOT NULL)`);
    const insert = db.prepare('INSERT INTO tillsync_outbox (id, status, attempts) VALUES (1, ?, ?)');
    const read = db.prepare('SELECT status, attempts FROM tillsync_outbox WHERE id = 1');
    try {
      fc.assert(
        fc.property(entry, transition, (e, t) => {
          db.exec('DELETE FROM tillsync_outbox');
          insert.run(e.status, e.attempts);
          const set = setSql(t);
          // A transition that touches neither status nor attempts still runs (with a no-op SET).
          db.prepare(`UPDATE tillsync_outbox SET ${set || 'id = id'} WHERE id = 1${whereSql(t)}`).run();
          expect(read.get()).toEqual(step(e, t));
        }),
      );
    } finally {
      db.close();
    }
  });
});
