import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatAge, nextAgeChangeMs, oldestAgeMs, trayView, TRAY_STATES } from '../../src/shared/tray-state.js';
import type { EngineStatus } from '../../src/shared/ipc.js';
import { engineStatus } from '../helpers/status.js';

const status = engineStatus;
const NOW = Date.parse('2026-12-03T12:00:00.000Z');
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The ISO time `ms` before NOW, as the engine reports `oldestPendingAt`. */
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const pausedTable = { Product: { pending: 0, failed: 0, synced: 0, conflicts: 0, lastPullAt: null, lastPushAt: null, paused: 'schema differs' } };
const firstLine = (tooltip: string) => tooltip.split('\n')[0];
const secondLine = (tooltip: string) => tooltip.split('\n')[1];

describe('tray state', () => {
  it('synced when nothing waits, also while a pass (a pull) runs or the engine is still connecting', () => {
    for (const s of [status(), status({ activity: { kind: 'INCREMENTAL', pulled: 4, pushed: 0 } }), status({ connection: 'connecting' })]) {
      const v = trayView(s, NOW);
      expect(v).toMatchObject({ state: 'synced', headline: 'All sales are safe at HQ', waiting: 0, oldestAgeMs: null });
      expect(v.tooltip).toBe('TillSync: All sales are safe at HQ\nwaiting 0 · failed 0 · conflicts 0');
    }
  });

  it('"synced" exactly when nothing waits: no pending change, nothing failed, no conflict, no paused table, sync not paused, not offline', () => {
    fc.assert(
      fc.property(
        fc.nat(50),
        fc.nat(5),
        fc.nat(5),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom('online', 'offline', 'connecting') as fc.Arbitrary<EngineStatus['connection']>,
        fc.integer({ min: 0, max: 3 * DAY }),
        (pending, failed, conflicts, tablePaused, paused, running, connection, age) => {
          const v = trayView(
            status({
              connection,
              paused,
              activity: running ? { kind: 'INCREMENTAL', pulled: 0, pushed: 0 } : null,
              totals: { pending, failed, conflicts },
              tables: tablePaused ? pausedTable : {},
              oldestPendingAt: pending > 0 ? ago(age) : null,
            }),
            NOW,
          );
          expect(TRAY_STATES).toContain(v.state);
          const nothingWaits = pending === 0 && failed === 0 && conflicts === 0 && !tablePaused && !paused;
          expect(v.state === 'synced').toBe(nothingWaits && connection !== 'offline');
          expect(v.state === 'attention').toBe(failed > 0 || conflicts > 0 || tablePaused);
          // Whatever the state, a waiting change shows its age in the headline (and so in the tooltip).
          if (pending > 0) {
            expect(v.headline).toContain(`oldest ${formatAge(age)}`);
            expect(v.oldestAgeMs).toBe(age);
          } else expect(v.oldestAgeMs).toBeNull();
          expect(firstLine(v.tooltip)).toBe(`TillSync: ${v.headline}`);
          expect(v.tooltip).toContain(`waiting ${pending} · failed ${failed} · conflicts ${conflicts}`);
        },
      ),
    );
  });

  it('waiting while online: the count and the age of the oldest change', () => {
    const v = trayView(status({ totals: { pending: 3 }, oldestPendingAt: ago(2 * MINUTE + 10 * SECOND) }), NOW);
    expect(v).toMatchObject({ state: 'pending', headline: '3 waiting for HQ, oldest 2 min', waiting: 3, oldestAgeMs: 130 * SECOND });
    expect(v.tooltip).toBe('TillSync: 3 waiting for HQ, oldest 2 min\nwaiting 3 · failed 0 · conflicts 0');
    expect(trayView(status({ totals: { pending: 1 }, oldestPendingAt: ago(400) }), NOW).headline).toBe('1 waiting for HQ, oldest just now');
  });

  it('syncing only while a pass runs and changes wait; it says how old the oldest is', () => {
    const v = trayView(status({ totals: { pending: 7 }, oldestPendingAt: ago(12_300), activity: { kind: 'FULL', pulled: 0, pushed: 0 } }), NOW);
    expect(v).toMatchObject({ state: 'syncing', headline: 'Sending to HQ: 7 waiting, oldest 12 s' });
  });

  it('connecting (not yet in touch with central) with changes waiting is waiting, with the age', () => {
    const v = trayView(status({ connection: 'connecting', totals: { pending: 2 }, oldestPendingAt: ago(3 * HOUR) }), NOW);
    expect(v).toMatchObject({ state: 'pending', headline: 'Connecting to HQ: 2 waiting, oldest 3 h' });
  });

  it('offline: the sales kept on the till and how long the oldest has waited', () => {
    expect(trayView(status({ connection: 'offline', totals: { pending: 12 }, oldestPendingAt: ago(40 * MINUTE) }), NOW)).toMatchObject({
      state: 'offline',
      headline: 'Offline: 12 sale changes kept safely on this till, oldest 40 min',
    });
    expect(trayView(status({ connection: 'offline', totals: { pending: 1 }, oldestPendingAt: ago(DAY + HOUR) }), NOW).headline).toBe(
      'Offline: 1 sale change kept safely on this till, oldest 1 day',
    );
    // Nothing waits, but new sales will: never "synced" while central is out of reach.
    expect(trayView(status({ connection: 'offline' }), NOW)).toMatchObject({ state: 'offline', headline: 'Offline: sales are kept safely on this till', oldestAgeMs: null });
  });

  it('sync paused by a supervisor never looks synced: with changes waiting it says how many and how old, without it says new sales will wait', () => {
    const v = trayView(status({ paused: true, totals: { pending: 3 }, oldestPendingAt: ago(2 * HOUR + 59 * MINUTE) }), NOW);
    expect(v).toMatchObject({ state: 'pending', headline: 'Sync paused: 3 waiting on this till, oldest 2 h' });
    expect(secondLine(v.tooltip)).toBe('waiting 3 · failed 0 · conflicts 0');
    expect(trayView(status({ paused: true }), NOW)).toMatchObject({ state: 'pending', headline: 'Sync paused: new sales will wait on this till' });
    // Paused while offline: the pause is why nothing moves; the tooltip says offline too.
    const off = trayView(status({ paused: true, connection: 'offline', totals: { pending: 1 }, oldestPendingAt: ago(MINUTE) }), NOW);
    expect(off).toMatchObject({ state: 'pending', headline: 'Sync paused: 1 waiting on this till, oldest 1 min' });
    expect(secondLine(off.tooltip)).toBe('waiting 1 · failed 0 · conflicts 0 · offline');
  });

  it('needs attention: what failed, conflicts and paused tables, and what else waits with its age', () => {
    expect(trayView(status({ totals: { conflicts: 1 } }), NOW).headline).toBe('Needs attention: 1 conflict');
    expect(trayView(status({ totals: { failed: 2, conflicts: 3 }, tables: pausedTable }), NOW).headline).toBe('Needs attention: 2 failed, 3 conflicts, 1 table paused');
    const v = trayView(status({ paused: true, connection: 'offline', totals: { failed: 2, pending: 3 }, oldestPendingAt: ago(3 * MINUTE) }), NOW);
    expect(v).toMatchObject({ state: 'attention', headline: 'Needs attention: 2 failed · 3 waiting, oldest 3 min', oldestAgeMs: 3 * MINUTE });
    expect(secondLine(v.tooltip)).toBe('waiting 3 · failed 2 · conflicts 0 · sync paused · offline');
  });

  it('the age is measured at `now`: the same status reads older later', () => {
    const s = status({ connection: 'offline', totals: { pending: 5 }, oldestPendingAt: ago(0) });
    const at = (ms: number) => trayView(s, new Date(NOW + ms)).headline;
    expect(at(0)).toBe('Offline: 5 sale changes kept safely on this till, oldest just now');
    expect(at(30 * SECOND)).toBe('Offline: 5 sale changes kept safely on this till, oldest 30 s');
    expect(at(5 * MINUTE)).toBe('Offline: 5 sale changes kept safely on this till, oldest 5 min');
    expect(at(3 * DAY)).toBe('Offline: 5 sale changes kept safely on this till, oldest 3 days');
  });

  it('an unknown or unreadable time shows the count without an age; a time ahead of this clock is just now', () => {
    expect(trayView(status({ totals: { pending: 3 }, oldestPendingAt: null }), NOW)).toMatchObject({ headline: '3 waiting for HQ', oldestAgeMs: null });
    expect(trayView(status({ totals: { pending: 3 }, oldestPendingAt: 'yesterday' }), NOW)).toMatchObject({ headline: '3 waiting for HQ', oldestAgeMs: null });
    expect(trayView(status({ totals: { pending: 3 }, oldestPendingAt: ago(-90 * SECOND) }), NOW)).toMatchObject({ headline: '3 waiting for HQ, oldest just now', oldestAgeMs: 0 });
    // A stale time with nothing pending is ignored: nothing waits.
    expect(oldestAgeMs(status({ oldestPendingAt: ago(HOUR) }), NOW)).toBeNull();
  });
});

describe('ages', () => {
  it('read humanely, rounded down', () => {
    const cases: [number, string][] = [
      [-5_000, 'just now'],
      [Number.NaN, 'just now'],
      [0, 'just now'],
      [4_999, 'just now'],
      [5_000, '5 s'],
      [12_900, '12 s'],
      [59_999, '59 s'],
      [MINUTE, '1 min'],
      [3 * MINUTE + 59 * SECOND, '3 min'],
      [HOUR - 1, '59 min'],
      [HOUR, '1 h'],
      [2 * HOUR + 30 * MINUTE, '2 h'],
      [DAY - 1, '23 h'],
      [DAY, '1 day'],
      [2 * DAY - 1, '1 day'],
      [2 * DAY, '2 days'],
      [40 * DAY, '40 days'],
    ];
    for (const [ms, text] of cases) expect(formatAge(ms), String(ms)).toBe(text);
  });

  it('nextAgeChangeMs is exactly when the text next changes', () => {
    fc.assert(
      fc.property(fc.integer({ min: -60_000, max: 40 * DAY }), (ms) => {
        const next = nextAgeChangeMs(ms);
        expect(next).toBeGreaterThan(0);
        expect(formatAge(ms + next - 1)).toBe(formatAge(ms));
        expect(formatAge(ms + next)).not.toBe(formatAge(ms));
      }),
    );
  });
});
