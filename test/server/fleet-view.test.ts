/**
 * The fleet view's decisions (pure): status, attention reasons, the console's order,
 * filters and pages, roll-ups per store, and the clock arithmetic of a till's report.
 */
import { describe, expect, it } from 'vitest';
import {
  attentionOf,
  attentionRules,
  byAttention,
  clockSkew,
  fleetPage,
  fleetStatus,
  fleetTerminal,
  onCentralClock,
  storeRollups,
  type FleetFacts,
} from '../../src/server/services/fleet-view.js';
import type { FleetQuery } from '../../src/shared/protocol.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const rules = attentionRules(30); // OFFLINE after 90 s
const MIN = 60_000;

function till(id: string, over: Partial<FleetFacts> = {}): FleetFacts {
  return {
    terminalId: id,
    storeId: 's1',
    name: id,
    disabled: false,
    lastSeenAt: NOW - 5_000,
    appVersion: '1.0.0',
    schemaVersion: '3/abcdef01',
    pending: 0,
    failed: 0,
    conflicts: 0,
    oldestPendingAt: null,
    unsyncedSalesTotal: 0,
    unsyncedSalesCount: 0,
    currency: 'EUR',
    clockSkewMs: 0,
    pullLagSeconds: 0,
    ...over,
  };
}

const q = (over: Partial<FleetQuery> = {}): FleetQuery => ({ limit: 100, offset: 0, ...over });
const view = (f: FleetFacts) => fleetTerminal(f, NOW, rules);

describe('fleetStatus', () => {
  it('is DISABLED, NEVER_SEEN, OFFLINE after three silent intervals, else ONLINE', () => {
    expect(fleetStatus(till('a', { disabled: true }), NOW, rules)).toBe('DISABLED');
    expect(fleetStatus(till('a', { lastSeenAt: null }), NOW, rules)).toBe('NEVER_SEEN');
    expect(fleetStatus(till('a', { lastSeenAt: NOW - 90_000 }), NOW, rules)).toBe('ONLINE');
    expect(fleetStatus(till('a', { lastSeenAt: NOW - 90_001 }), NOW, rules)).toBe('OFFLINE');
    expect(fleetStatus(till('a', { disabled: true, lastSeenAt: null }), NOW, rules)).toBe('DISABLED');
  });
});

describe('attentionOf', () => {
  const reasons = (over: Partial<FleetFacts>) => {
    const f = till('a', over);
    return attentionOf(f, fleetStatus(f, NOW, rules), NOW, rules);
  };

  it('flags an offline till holding sales or changes, and an offline one holding nothing less urgently', () => {
    expect(reasons({ lastSeenAt: NOW - 10 * MIN, unsyncedSalesCount: 2, unsyncedSalesTotal: 12.5 })).toEqual(['OFFLINE_WITH_SALES']);
    expect(reasons({ lastSeenAt: NOW - 10 * MIN, pending: 1 })).toEqual(['OFFLINE_WITH_SALES']);
    expect(reasons({ lastSeenAt: NOW - 10 * MIN })).toEqual(['OFFLINE']);
  });

  it('flags failed changes, open conflicts, a change pending over five minutes, a skewed clock and a lagging pull, in that order', () => {
    expect(
      reasons({ failed: 1, conflicts: 2, pending: 3, oldestPendingAt: NOW - 6 * MIN, clockSkewMs: -3 * MIN, pullLagSeconds: 301 }),
    ).toEqual(['FAILED_CHANGES', 'OPEN_CONFLICTS', 'PENDING_TOO_LONG', 'CLOCK_SKEW', 'PULL_BEHIND']);
  });

  it('does not flag what is within its threshold', () => {
    expect(reasons({ pending: 3, oldestPendingAt: NOW - 5 * MIN, clockSkewMs: 2 * MIN, pullLagSeconds: 300 })).toEqual([]);
    expect(reasons({ clockSkewMs: null, pullLagSeconds: null })).toEqual([]);
  });

  it('never flags a disabled till, and a never-seen one only for what it could hold', () => {
    expect(reasons({ disabled: true, failed: 3, lastSeenAt: NOW - 10 * MIN, pending: 5 })).toEqual([]);
    expect(reasons({ lastSeenAt: null })).toEqual([]);
  });
});

describe('fleetTerminal', () => {
  it('gives the age of the oldest pending change only while something waits', () => {
    expect(view(till('a', { pending: 2, oldestPendingAt: NOW - 61_500 })).oldestPendingSeconds).toBe(61);
    expect(view(till('a', { pending: 0, oldestPendingAt: NOW - 61_500 })).oldestPendingSeconds).toBeNull();
    expect(view(till('a', { lastSeenAt: NOW })).lastSeenAt).toBe('2026-12-06T12:00:00.000Z');
  });
});

describe('the console order, filters and pages', () => {
  const fleet = [
    till('ok-1'),
    till('never', { lastSeenAt: null }),
    till('off-empty', { lastSeenAt: NOW - 10 * MIN }),
    till('off-small', { lastSeenAt: NOW - 10 * MIN, unsyncedSalesCount: 1, unsyncedSalesTotal: 5 }),
    till('off-big', { lastSeenAt: NOW - 10 * MIN, unsyncedSalesCount: 9, unsyncedSalesTotal: 900, storeId: 's2' }),
    till('failing', { failed: 1 }),
    till('gone', { disabled: true }),
    till('ok-0'),
  ].map(view);

  it('lists offline tills holding sales first (most money first), then by reason, then the calm ones by status and id', () => {
    expect([...fleet].sort(byAttention).map((t) => t.terminalId)).toEqual(['off-big', 'off-small', 'failing', 'off-empty', 'ok-0', 'ok-1', 'never', 'gone']);
  });

  it('filters by store, status and attention, and counts every match', () => {
    expect(fleetPage(fleet, q({ storeId: 's2' }))).toMatchObject({ total: 1, terminals: [{ terminalId: 'off-big' }] });
    expect(fleetPage(fleet, q({ status: 'OFFLINE' })).terminals.map((t) => t.terminalId)).toEqual(['off-big', 'off-small', 'off-empty']);
    expect(fleetPage(fleet, q({ attention: true })).total).toBe(4);
    expect(fleetPage(fleet, q({ attention: false })).terminals.map((t) => t.terminalId)).toEqual(['ok-0', 'ok-1', 'never', 'gone']);
  });

  it('pages through the same order without losing or repeating a till', () => {
    const all = fleetPage(fleet, q()).terminals.map((t) => t.terminalId);
    const paged = [0, 3, 6].flatMap((offset) => fleetPage(fleet, q({ limit: 3, offset })).terminals.map((t) => t.terminalId));
    expect(paged).toEqual(all);
    expect(fleetPage(fleet, q({ offset: 100 }))).toEqual({ terminals: [], total: fleet.length });
  });

  it('rolls tills up per store, the store needing most attention first, money summed to the cent', () => {
    const rolled = storeRollups(
      [...fleet, view(till('off-cents', { lastSeenAt: NOW - 10 * MIN, unsyncedSalesCount: 1, unsyncedSalesTotal: 0.1, pending: 1, oldestPendingAt: NOW - 120_000 }))],
      new Map([['s1', { name: 'Main street', currency: 'EUR' }]]),
    );
    expect(rolled.map((s) => s.storeId)).toEqual(['s1', 's2']);
    expect(rolled[0]).toMatchObject({
      name: 'Main street',
      terminals: 8,
      byStatus: { ONLINE: 3, OFFLINE: 3, NEVER_SEEN: 1, DISABLED: 1 },
      needAttention: 4,
      failed: 1,
      unsyncedSalesCount: 2,
      unsyncedSalesTotal: 5.1,
      oldestPendingSeconds: 120,
    });
    expect(rolled[1]).toMatchObject({ name: null, currency: 'EUR', terminals: 1, unsyncedSalesTotal: 900 });
  });
});

describe('the report on central clock', () => {
  it("moves a till's instant by its skew, and keeps the skew within an integer column", () => {
    const received = NOW;
    const reported = NOW + 5 * MIN; // the till's clock is five minutes ahead
    expect(onCentralClock(NOW + 2 * MIN, reported, received)).toBe(NOW - 3 * MIN);
    expect(onCentralClock(NOW, null, received)).toBe(NOW);
    expect(clockSkew(reported, received)).toBe(5 * MIN);
    expect(clockSkew(null, received)).toBeNull();
    expect(clockSkew(received + 1e12, received)).toBe(2_147_483_647);
    expect(clockSkew(received - 1e12, received)).toBe(-2_147_483_647);
  });
});
