/**
 * The restore generation's decisions, pure (services/epoch.ts, pull.ts, the engine's
 * reading of CENTRAL_RESTORED): when a database identity means a restore, when an
 * admin's call moves the epoch, which cursors are of another epoch, and that the
 * cursors handed out before epochs existed are still read (as epoch 0), so upgrading
 * central resets no till. A PostgreSQL timeline cannot be moved in a test here (that
 * takes a point-in-time recovery): the comparison is proven here, and the start's
 * use of it in test/engine/central-restored.test.ts with the row's timeline changed.
 */
import { describe, expect, it } from 'vitest';
import { afterPullFailure } from '../../src/main/sync/pull-loop.js';
import { CentralError, restoredEpoch } from '../../src/main/sync/central-client.js';
import { rereadTables, resentTables } from '../../src/main/sync/store/restored.js';
import { identityVerdict, markVerdict } from '../../src/server/services/epoch.js';
import { decodeCursor, encodeCursor, ofAnotherEpoch } from '../../src/server/services/pull.js';
import { HttpError } from '../../src/server/errors.js';

describe('identityVerdict', () => {
  const id = { systemIdentifier: '7716304096237873311', timeline: 1 };
  it('records an identity when none was kept, and changes nothing when it cannot be read', () => {
    expect(identityVerdict({ systemIdentifier: null, timeline: null }, id)).toBe('record');
    expect(identityVerdict({ systemIdentifier: id.systemIdentifier, timeline: 1 }, null)).toBe('unknown');
  });
  it('the same identity is the same database; another timeline (PITR, a promoted standby) or another cluster is a restore', () => {
    expect(identityVerdict(id, id)).toBe('same');
    expect(identityVerdict(id, { ...id, timeline: 2 })).toBe('restored');
    expect(identityVerdict({ ...id, timeline: 3 }, { ...id, timeline: 2 })).toBe('restored');
    expect(identityVerdict(id, { ...id, systemIdentifier: '1' })).toBe('restored');
  });
});

describe('markVerdict', () => {
  it('a restore already told is a repeat; another one moves the epoch', () => {
    expect(markVerdict({ restoreId: 'nightly' }, 'nightly')).toBe('repeat');
    expect(markVerdict({ restoreId: 'nightly' }, 'weekly')).toBe('move');
    expect(markVerdict({ restoreId: null }, 'nightly')).toBe('move');
  });
});

describe('cursors and epochs', () => {
  it("reads today's cursors as epoch 0, and wraps a later epoch's", () => {
    const old = Buffer.from(JSON.stringify(['812', 3])).toString('base64url');
    expect(decodeCursor(old)).toEqual({ txid: '812', seq: 3 });
    expect(encodeCursor({ txid: '812', seq: 3, epoch: 0 })).toBe(old);
    const later = encodeCursor({ txid: '812', seq: 3, epoch: 1796600000 });
    expect(later).not.toBe(old);
    expect(decodeCursor(later)).toEqual({ txid: '812', seq: 3, epoch: 1796600000 });
    const snap = encodeCursor({ resume: '900', after: 'p-1', epoch: 5 });
    expect(decodeCursor(snap)).toEqual({ resume: '900', after: 'p-1', epoch: 5 });
    const since = encodeCursor({ txid: '0', seq: 0, since: '2026-01-01T00:00:00Z', epoch: 5 });
    expect(decodeCursor(since)).toEqual({ txid: '0', seq: 0, since: '2026-01-01T00:00:00Z', epoch: 5 });
  });
  it('refuses a wrapped cursor it did not issue (400 INVALID_CURSOR)', () => {
    for (const v of [{ e: 0, c: ['1', 1] }, { e: -1, c: ['1', 1] }, { e: 1.5, c: ['1', 1] }, { e: 2, c: 'x' }, { e: '2', c: ['1', 1] }, { c: ['1', 1] }]) {
      const text = Buffer.from(JSON.stringify(v)).toString('base64url');
      expect(() => decodeCursor(text)).toThrow(HttpError);
    }
  });
  it('a cursor is of another epoch when its epoch (0 when absent) is not central’s', () => {
    expect(ofAnotherEpoch({ txid: '1', seq: 0 }, 0)).toBe(false);
    expect(ofAnotherEpoch({ txid: '1', seq: 0 }, 7)).toBe(true);
    expect(ofAnotherEpoch({ txid: '1', seq: 0, epoch: 7 }, 7)).toBe(false);
    // A cursor of a later epoch than central's: the backup is older than the epoch's move.
    expect(ofAnotherEpoch({ resume: null, after: null, epoch: 9 }, 7)).toBe(true);
  });
});

describe("the engine's reading of CENTRAL_RESTORED", () => {
  it('takes the epoch from the answer, and catches up only with one', () => {
    expect(restoredEpoch({ code: 'CENTRAL_RESTORED', epoch: 12 })).toBe(12);
    expect(restoredEpoch({ code: 'CENTRAL_RESTORED' })).toBeUndefined();
    expect(restoredEpoch({ code: 'CURSOR_AHEAD', epoch: 12 })).toBeUndefined();
    expect(restoredEpoch({ code: 'CENTRAL_RESTORED', epoch: -1 })).toBeUndefined();
    expect(afterPullFailure(new CentralError(409, 'CENTRAL_RESTORED', 'restored', 12))).toBe('restored');
    expect(afterPullFailure(new CentralError(409, 'CENTRAL_RESTORED', 'restored'))).toBe('fail');
  });
  it('re-reads every pulled table it has, and sends again only the tables only terminals write', () => {
    const tables = ['products', 'customers', 'orders', 'order_items', 'payments', 'stores', 'no_such_table'];
    expect(resentTables(tables).sort()).toEqual(['order_items', 'orders', 'payments']);
    expect(rereadTables(tables).sort()).toEqual(['customers', 'products', 'stores']);
  });
});
