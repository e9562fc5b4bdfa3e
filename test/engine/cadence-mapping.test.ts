import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PRIORITY, entryForEntity, type CatalogEntry } from '../../src/shared/catalog/index.js';
import { FULL_SYNC_MIN_PRIORITY, minPriorityForCycle, tablePriority } from '../../src/main/sync/cadence.js';
import { localToWire, toIsoTimestamp, wireToLocal, type ForeignKeys } from '../../src/main/sync/mapping.js';

describe('cadence by tier', () => {
  const covers = (cycle: number, priority: number) => priority >= minPriorityForCycle(cycle);

  it('CRITICAL and HIGH are covered by every cycle', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => covers(n, PRIORITY.CRITICAL) && covers(n, PRIORITY.HIGH)));
  });

  it('MEDIUM is covered every 2nd or 5th cycle, never two cycles running without one in three', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => {
        expect(covers(n, PRIORITY.MEDIUM)).toBe(n % 2 === 0 || n % 5 === 0);
        expect(covers(n, PRIORITY.MEDIUM) || covers(n + 1, PRIORITY.MEDIUM) || covers(n + 2, PRIORITY.MEDIUM)).toBe(true);
      }),
    );
  });

  it('LOW is covered exactly every 5th cycle', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => covers(n, PRIORITY.LOW) === (n % 5 === 0)));
  });

  it('BACKGROUND is never covered by an incremental cycle, only by a full sync', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 100_000 }), (n) => !covers(n, PRIORITY.BACKGROUND)));
    expect(PRIORITY.BACKGROUND >= FULL_SYNC_MIN_PRIORITY).toBe(true);
  });

  it("a table's pull priority is the lowest its rows can have", () => {
    expect(tablePriority(5)).toBe(5);
    expect(tablePriority({ column: 'status', when: { completed: 10 }, otherwise: 8 })).toBe(8);
  });
});

describe('mapping between terminal rows and wire rows', () => {
  const inventory = entryForEntity('InventoryItem') as CatalogEntry;
  const customer = entryForEntity('Customer') as CatalogEntry;
  const audit = entryForEntity('AuditLog') as CatalogEntry;
  const ids = new Map<string, string>([
    ['stores:1', 'store-uuid'],
    ['products:7', 'product-uuid'],
  ]);
  const fk: ForeignKeys = {
    serverIdOf: (table, id) => ids.get(`${table}:${id}`) ?? null,
    localIdOf: (table, sid) => {
      for (const [k, v] of ids) if (v === sid && k.startsWith(`${table}:`)) return Number(k.split(':')[1]);
      return null;
    },
  };

  it('renames stock_quantity to master_stock_quantity and translates local foreign keys to central ids', () => {
    const { row, unlinked } = localToWire(inventory, 'inv-1', { id: 3, store_id: 1, product_id: 7, stock_quantity: 12.5, server_id: 'x', sync_status: 'pending' }, fk);
    expect(unlinked).toEqual([]);
    expect(row).toEqual({ id: 'inv-1', store_id: 'store-uuid', product_id: 'product-uuid', master_stock_quantity: 12.5 });
  });

  it('reports a foreign key whose target has no central id yet', () => {
    const { unlinked } = localToWire(inventory, 'inv-1', { id: 3, store_id: 1, product_id: 99 }, fk);
    expect(unlinked).toEqual(['product_id']);
  });

  it('maps a wire row back to local names and local ids, and names a missing foreign-key target', () => {
    const cols = new Set(['store_id', 'product_id', 'stock_quantity', 'variant_id']);
    const { row, missing } = wireToLocal(inventory, { id: 'inv-1', store_id: 'store-uuid', product_id: 'unknown-uuid', master_stock_quantity: '4.25' }, fk, cols);
    expect(row).toEqual({ store_id: 1, product_id: null, stock_quantity: 4.25 });
    expect([...missing.entries()]).toEqual([['product_id', { table: 'products', serverId: 'unknown-uuid' }]]);
  });

  it('converts SQLite values: booleans, JSON text and SQLite timestamps', () => {
    expect(toIsoTimestamp('2024-05-01 10:20:30')).toBe('2024-05-01T10:20:30Z');
    expect(toIsoTimestamp('2024-05-01')).toBe('2024-05-01T00:00:00Z');
    const { row } = localToWire(audit, 'a1', { id: 1, action: 'void', details: '{"reason":"mistake"}', occurred_at: '2024-05-01 10:20:30.5' }, fk);
    expect(row).toMatchObject({ action: 'void', details: { reason: 'mistake' }, occurred_at: '2024-05-01T10:20:30.5Z' });
    expect(audit.rowSchema.safeParse(row).success).toBe(true);
  });

  it('a local image mapped to the wire and back is the same row (generated rows)', () => {
    const cols = new Set(customer.wireColumns.map((c) => c.local));
    fc.assert(
      fc.property(
        fc.record({
          name: fc.string({ minLength: 1 }),
          email: fc.option(fc.emailAddress(), { nil: null }),
          loyalty_points: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: null }),
          total_spent: fc.option(fc.double({ min: 0, max: 1e7, noNaN: true }), { nil: null }),
          visit_count: fc.option(fc.nat(10_000), { nil: null }),
        }),
        (local) => {
          const { row: wire } = localToWire(customer, 'c-1', { id: 1, ...local }, fk);
          expect(customer.rowSchema.safeParse(wire).success).toBe(true);
          const { row: back } = wireToLocal(customer, wire, fk, cols);
          expect(back).toEqual(local);
        },
      ),
    );
  });
});
