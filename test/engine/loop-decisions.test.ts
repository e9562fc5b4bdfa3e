/**
 * The sync loops' decisions, out of their I/O (pure): what a failed call to central
 * means (offline, busy, key refused, refused), what the push pipeline does once a
 * batch is answered, which tables a pass or a hint pulls, where and how a page request starts,
 * when the link changes its connection, reconnects its socket and reports the outbox,
 * and how the status sums the tables.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOG, PRIORITY, pullable } from '../../src/shared/catalog/index.js';
import { tablePriority } from '../../src/main/sync/cadence.js';
import { CentralError, NetworkError } from '../../src/main/sync/central-client.js';
import { tableSummary } from '../../src/main/sync/engine-status.js';
import { afterPushFailure, failureOf, refusedForContent } from '../../src/main/sync/failure.js';
import { HANDSHAKE_GRACE_MS, REPORT_DEBOUNCE_MS, REPORT_MAX_HOLD_MS, linkAfter, needsReconnect, reportPlan, socketOnReachable, type Connection } from '../../src/main/sync/link.js';
import { afterPullFailure, hintedTables, pageRequest, startsFromSnapshot, tablesToPull } from '../../src/main/sync/pull-loop.js';
import { nextRound } from '../../src/main/sync/push-loop.js';

const status = fc.oneof(fc.constantFrom(400, 401, 403, 404, 409, 422, 429, 500, 502, 503), fc.integer({ min: 400, max: 599 }));
const code = fc.constantFrom('WRONG_TERMINAL', 'TERMINAL_DISABLED', 'FORBIDDEN', 'VALIDATION_ERROR', 'MISSING_PARENT', 'HTTP_ERROR');

describe('what a failed call to central means', () => {
  it('unreachable only when central could not be reached; busy for 5xx and 429; key refused for 401 and a refused terminal', () => {
    expect(failureOf(new NetworkError('down'))).toBe('unreachable');
    expect(failureOf(new Error('SQLITE_BUSY'))).toBe('broken');
    expect(failureOf('nope')).toBe('broken');
    fc.assert(
      fc.property(status, code, (s, c) => {
        const f = failureOf(new CentralError(s, c, 'x'));
        const busy = s >= 500 || s === 429;
        const key = s === 401 || (s === 403 && (c === 'WRONG_TERMINAL' || c === 'TERMINAL_DISABLED'));
        expect(f).toBe(busy ? 'busy' : key ? 'key-refused' : 'refused');
      }),
    );
  });

  it('a push stops on offline, busy or a refused key (offline only for the first), and goes on past a batch refused for its content', () => {
    expect(afterPushFailure(new NetworkError('down'))).toEqual({ stop: true, offline: true, refusedKey: false });
    expect(afterPushFailure(new Error('local'))).toEqual({ stop: false, offline: false, refusedKey: false });
    fc.assert(
      fc.property(status, code, (s, c) => {
        const err = new CentralError(s, c, 'x');
        const then = afterPushFailure(err);
        expect(then.offline).toBe(false);
        expect(then.refusedKey).toBe(err.refusesKey);
        expect(then.stop).toBe(err.retryable || err.refusesKey);
      }),
    );
  });

  it('only a 4xx other than 401/403 is split in halves (never a network failure, central trouble, or an auth answer)', () => {
    expect(refusedForContent(new NetworkError('down'))).toBe(false);
    expect(refusedForContent(new Error('local'))).toBe(false);
    fc.assert(
      fc.property(status, code, (s, c) => {
        expect(refusedForContent(new CentralError(s, c, 'x'))).toBe(s < 500 && s !== 429 && s !== 401 && s !== 403);
      }),
    );
  });

  it('a pulled table pauses on a schema mismatch, starts over when its cursor is ahead, is read again when central purged past its cursor, and fails otherwise', () => {
    expect(afterPullFailure(new CentralError(409, 'SCHEMA_MISMATCH', 'x'))).toBe('pause');
    expect(afterPullFailure(new CentralError(409, 'CURSOR_AHEAD', 'x'))).toBe('restart');
    expect(afterPullFailure(new CentralError(409, 'CURSOR_EXPIRED', 'x'))).toBe('resync');
    expect(afterPullFailure(new CentralError(400, 'INVALID_CURSOR', 'x'))).toBe('fail');
    expect(afterPullFailure(new NetworkError('down'))).toBe('fail');
  });
});

describe('the push pipeline after an answer', () => {
  const built = fc.option(fc.record({ size: fc.nat({ max: 3 }), deferred: fc.nat({ max: 3 }) }), { nil: null });

  it('never drops a built batch: stopping with one that did not go out puts it back; one that went out is taken in', () => {
    fc.assert(
      fc.property(built, fc.boolean(), (next, posted) => {
        const usable = next !== null && (next.size > 0 || next.deferred === 0);
        const r = nextRound(next, posted && usable, true);
        if (!usable) expect(r).toBe('stop');
        else expect(r).toBe(posted ? 'next' : 'unsend-next');
      }),
    );
  });

  it('while going on: the next batch when it holds changes (or nothing was held back), else build again', () => {
    fc.assert(
      fc.property(built, fc.boolean(), (next, posted) => {
        const r = nextRound(next, posted, false);
        if (next === null) expect(r).toBe('rebuild');
        else if (next.size === 0 && next.deferred > 0) expect(r).toBe('rebuild'); // all of it waited for the answered batch
        else expect(r).toBe('next');
      }),
    );
  });
});

describe('which tables are pulled', () => {
  const entries = CATALOG;
  const pausedOf = (names: string[]) => new Map(names.map((n) => [n, 'schema differs'] as const));
  const tableNames = fc.subarray(CATALOG.map((e) => e.table));

  it('a pass pulls the pullable, unpaused tables due at its priority, in catalog order; a lower priority pulls more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: PRIORITY.CRITICAL + 1 }), tableNames, (min, paused) => {
        const got = tablesToPull(entries, min, pausedOf(paused));
        const want = entries.filter((e) => pullable(e) && tablePriority(e.priority) >= min && !paused.includes(e.table));
        expect(got.map((e) => e.table)).toEqual(want.map((e) => e.table));
        const lower = tablesToPull(entries, Math.max(0, min - 1), pausedOf(paused)).map((e) => e.table);
        for (const e of got) expect(lower).toContain(e.table);
      }),
    );
  });

  it('a hint pulls exactly the pullable, unpaused tables of the hinted entity types', () => {
    fc.assert(
      fc.property(fc.subarray(CATALOG.map((e) => e.entityType)), tableNames, (wanted, paused) => {
        const got = hintedTables(entries, new Set(wanted), pausedOf(paused));
        for (const e of got) {
          expect(wanted).toContain(e.entityType);
          expect(pullable(e)).toBe(true);
          expect(paused).not.toContain(e.table);
        }
        const missed = entries.filter((e) => wanted.includes(e.entityType) && pullable(e) && !paused.includes(e.table) && !got.includes(e));
        expect(missed).toEqual([]);
      }),
    );
  });

  it('a first pull of a table the till holds none of starts from a snapshot with snapshot-sized pages; any other from its cursor', () => {
    const sizes = { pullPageSize: 500, snapshotPageSize: 1000 };
    expect(pageRequest(undefined, true, sizes)).toEqual({ cursor: undefined, start: 'snapshot', limit: 1000 });
    expect(pageRequest(undefined, false, sizes)).toEqual({ cursor: undefined, start: undefined, limit: 500 });
    // The pages of a snapshot after its first keep the snapshot's size.
    expect(pageRequest('c1', true, sizes)).toEqual({ cursor: 'c1', start: undefined, limit: 1000 });
    expect(pageRequest('c1', false, sizes)).toEqual({ cursor: 'c1', start: undefined, limit: 500 });
  });

  it('a pull without a cursor reads a snapshot when the till holds none of the table, or re-reads it after CURSOR_EXPIRED; else it follows the log', () => {
    expect(startsFromSnapshot({ holdsSyncedRows: false, resyncing: false })).toBe(true);
    expect(startsFromSnapshot({ holdsSyncedRows: true, resyncing: true })).toBe(true);
    expect(startsFromSnapshot({ holdsSyncedRows: false, resyncing: true })).toBe(true);
    // Holding rows and not re-reading: from the log's beginning, so a delete made while the cursor was lost still arrives.
    expect(startsFromSnapshot({ holdsSyncedRows: true, resyncing: false })).toBe(false);
  });
});

describe('the link', () => {
  const connection = fc.constantFrom<Connection>('connecting', 'online', 'offline');

  it('reports online or offline once per change; back-online only when it had been offline', () => {
    fc.assert(
      fc.property(connection, fc.array(fc.boolean(), { maxLength: 30 }), (start, answers) => {
        let c = start;
        for (const reached of answers) {
          const t = linkAfter(c, reached);
          expect(t.next).toBe(reached ? 'online' : 'offline');
          expect(t.changed).toBe(t.next !== c);
          expect(t.cameBack).toBe(reached && c === 'offline');
          c = t.next;
        }
      }),
    );
  });

  it('reconnects the socket by itself only where socket.io does not: a server-side close, or a refused handshake', () => {
    expect(needsReconnect({ disconnected: 'io server disconnect' })).toBe(true);
    expect(needsReconnect({ disconnected: 'transport close' })).toBe(false);
    expect(needsReconnect({ disconnected: 'io client disconnect' })).toBe(false);
    expect(needsReconnect({ connectFailed: { active: false } })).toBe(true);
    expect(needsReconnect({ connectFailed: { active: true } })).toBe(false);
  });

  it('when central answers over HTTP, connects a socket that is down now: unless connected or its handshake has only just gone out', () => {
    expect(socketOnReachable({ connected: true, handshaking: false, handshakeMs: 0 })).toBe('nothing');
    expect(socketOnReachable({ connected: false, handshaking: true, handshakeMs: HANDSHAKE_GRACE_MS - 1 })).toBe('nothing');
    expect(socketOnReachable({ connected: false, handshaking: true, handshakeMs: HANDSHAKE_GRACE_MS })).toBe('connect'); // hangs
    expect(socketOnReachable({ connected: false, handshaking: false, handshakeMs: 0 })).toBe('connect'); // waiting out a pause
    expect(socketOnReachable({ connected: false, handshaking: false, handshakeMs: 60_000 })).toBe('connect');
  });

  it('reports the outbox after every wish, after the last of a burst, never held back beyond the cap', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof({ arbitrary: fc.nat({ max: 250 }), weight: 4 }, { arbitrary: fc.nat({ max: 3000 }), weight: 1 }), { minLength: 1, maxLength: 80, size: 'max' }), (gaps) => {
        // Wishes at increasing times; a timer fires REPORT_DEBOUNCE_MS after its last (re)start.
        let t = 0;
        let since: number | null = null;
        let fireAt = 0;
        const fired: { at: number; since: number }[] = [];
        const wishes: number[] = [];
        for (const gap of gaps) {
          t += gap;
          if (since !== null && fireAt <= t) {
            fired.push({ at: fireAt, since });
            since = null;
          }
          wishes.push(t);
          const plan = reportPlan(since, t);
          if (plan === 'start') {
            since = t;
            fireAt = t + REPORT_DEBOUNCE_MS;
          } else if (plan === 'restart') fireAt = t + REPORT_DEBOUNCE_MS;
        }
        if (since !== null) fired.push({ at: fireAt, since });
        for (const f of fired) expect(f.at - f.since).toBeLessThanOrEqual(REPORT_MAX_HOLD_MS + REPORT_DEBOUNCE_MS);
        for (const w of wishes) expect(fired.some((f) => f.at >= w)).toBe(true);
        // A burst (wishes closer than the debounce) is one report.
        if (gaps.slice(1).every((g) => g < REPORT_DEBOUNCE_MS) && t - (gaps[0] ?? 0) <= REPORT_MAX_HOLD_MS) expect(fired).toHaveLength(1);
      }),
    );
    // A wish soon after the first waits for the burst's end; one past the cap leaves the pending report as it is.
    expect(reportPlan(0, 100)).toBe('restart');
    expect(reportPlan(0, REPORT_MAX_HOLD_MS + 100)).toBe('keep');
  });
});

describe('the status', () => {
  const counts = fc.record({ pending: fc.nat({ max: 50 }), failed: fc.nat({ max: 50 }), synced: fc.nat({ max: 50 }), conflicts: fc.nat({ max: 50 }) });

  it('lists the counted entity types with their stamps (null when none), and the totals are their sums', () => {
    fc.assert(
      fc.property(fc.subarray([...CATALOG]), fc.array(counts, { minLength: CATALOG.length, maxLength: CATALOG.length }), fc.subarray([...CATALOG]), (counted, cs, stamped) => {
        const byType = Object.fromEntries(counted.map((e, i) => [e.entityType, cs[i] ?? { pending: 0, failed: 0, synced: 0, conflicts: 0 }]));
        const stamps = new Map(stamped.map((e) => [e.table, { lastPushAt: '2024-01-01T00:00:00.000Z', lastPullAt: null, paused: 'p' }]));
        const { tables, totals } = tableSummary(CATALOG, byType, stamps);
        expect(Object.keys(tables).sort()).toEqual(counted.map((e) => e.entityType).sort());
        for (const e of counted) {
          const s = stamps.get(e.table);
          expect(tables[e.entityType]).toEqual({ ...byType[e.entityType], lastPushAt: s?.lastPushAt ?? null, lastPullAt: null, paused: s?.paused ?? null });
        }
        for (const k of ['pending', 'failed', 'synced', 'conflicts'] as const) {
          expect(totals[k]).toBe(Object.values(byType).reduce((a, c) => a + c[k], 0));
        }
      }),
    );
  });
});
