/**
 * The fault campaign's judgement, on hand-made rows: what counts as lost, duplicated
 * or differing, and the seeded plan of kills and HQ writes.
 */
import { describe, expect, it } from 'vitest';
import { auditHq, auditSales, divergent, type SaleRow } from './audit.js';
import { planEvents } from './campaign.js';

const sale = (n: number, over: Partial<SaleRow> = {}): SaleRow => ({
  orderNumber: `SIM-T-${String(n).padStart(6, '0')}`,
  status: 'completed',
  totalCents: 100 * n,
  items: 2,
  payments: 1,
  movements: 2,
  ...over,
});

describe('the campaign audit', () => {
  it('finds central holding exactly what the till wrote converged', () => {
    const till = [sale(1), sale(2), sale(3)];
    const a = auditSales(till, [sale(3), sale(1), sale(2)]);
    expect(a.converged).toBe(true);
    expect(a.written).toEqual({ orders: 3, items: 6, payments: 3, movements: 6 });
    expect(a.lost).toEqual({ orders: 0, items: 0, payments: 0, movements: 0 });
  });

  it('counts a missing order and its parts as lost, and missing parts of a present order', () => {
    const a = auditSales([sale(1), sale(2)], [sale(2, { items: 1, payments: 0 })]);
    expect(a.lost).toEqual({ orders: 1, items: 3, payments: 2, movements: 2 });
    expect(a.duplicated).toEqual({ orders: 0, items: 0, payments: 0, movements: 0 });
    expect(a.converged).toBe(false);
    expect(a.examples.join('\n')).toMatch(/lost SIM-T-000001/);
  });

  it('counts an order twice at central, and extra parts, as duplicated', () => {
    const a = auditSales([sale(1), sale(2)], [sale(1), sale(1, { items: 0, payments: 0, movements: 0 }), sale(2, { payments: 2 })]);
    expect(a.duplicated).toEqual({ orders: 1, items: 0, payments: 1, movements: 0 });
    expect(a.lost).toEqual({ orders: 0, items: 0, payments: 0, movements: 0 });
    expect(a.converged).toBe(false);
  });

  it('tells a differing order and an order the till never wrote', () => {
    const a = auditSales([sale(1)], [sale(1, { status: 'pending' }), sale(9)]);
    expect(a.mismatched).toBe(1);
    expect(a.unknown).toBe(1);
    expect(a.converged).toBe(false);
  });

  it("counts HQ's changes the till holds at the last price and marker", () => {
    const last = new Map([
      ['p1', { productId: 'p1', priceCents: 250, marker: 'chaos #3' }],
      ['p2', { productId: 'p2', priceCents: 990, marker: 'chaos #4' }],
    ]);
    const till = new Map([
      ['p1', { priceCents: 250, marker: 'chaos #3' }],
      ['p2', { priceCents: 990, marker: 'chaos #2' }],
    ]);
    expect(auditHq(last, till)).toMatchObject({ changed: 2, applied: 1 });
  });

  it('compares both-way rows by central id', () => {
    expect(divergent(new Map([['c1', '10/500/1']]), new Map([['c1', '10/500/1']]))).toEqual([]);
    expect(divergent(new Map([['c1', '10/500/1'], ['c2', '1/1/1']]), new Map([['c1', '5/250/1']]))).toHaveLength(2);
  });
});

describe('the campaign plan', () => {
  it('is the same for a seed, kills the agent and central, and restarts each before its next kill', () => {
    const plan = planEvents(14, 20);
    expect(planEvents(14, 20)).toEqual(plan);
    expect(planEvents(15, 20)).not.toEqual(plan);
    for (const who of ['agent', 'central'] as const) {
      const mine = plan.filter((e) => e.kind === `kill-${who}` || e.kind === `start-${who}`).map((e) => e.kind);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      // kill, start, kill, start ...: never two kills in a row.
      expect(mine.every((k, i) => k === (i % 2 === 0 ? `kill-${who}` : `start-${who}`))).toBe(true);
    }
    expect(plan.filter((e) => e.kind === 'hq-write').length).toBeGreaterThan(5);
    expect(plan.every((e) => e.at >= 0 && e.at < 20_000)).toBe(true);
  });
});
