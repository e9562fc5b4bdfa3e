/** The table catalog: its own consistency, the derived wire schemas and hashes, and schema drift. */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { renderCentralSchema, renderTerminalSchema } from '../../scripts/schema-source.js';
import {
  CATALOG,
  CENTRAL_KEY,
  CENTRAL_SYNC_COLUMNS,
  CONFLICT_STRATEGIES,
  ENTITY_TYPES,
  entryForEntity,
  entryForTable,
  fingerprint,
  LOCAL_ONLY_COLUMNS,
  priorityOf,
  pullable,
  pushable,
  TABLES,
  type CatalogEntry,
  type ColumnDef,
} from '../../src/shared/catalog/index.js';

const entry = (entityType: string) => entryForEntity(entityType) as CatalogEntry;
const indexOf = (table: string) => CATALOG.findIndex((e) => e.table === table);

/** The wire shape a schema hash covers (what both sides must agree on), rebuilt from an entry. */
interface Shape {
  entityType: string;
  centralName: string;
  columns: { name: string; def: ColumnDef }[];
}
const shapeOf = (e: CatalogEntry): Shape => ({
  entityType: e.entityType,
  centralName: e.centralName,
  columns: e.wireColumns.map((c) => ({ name: c.name, def: c.def })),
});
const hashOf = (s: Shape): string =>
  fingerprint(
    [s.entityType, s.centralName, ...s.columns.map((c) => `${c.name}:${c.def.type}:${c.def.references ?? ''}:${c.def.required ? 1 : 0}`)].join('|'),
  );

describe('catalog consistency', () => {
  it('every entity type, terminal table and central table is unique, and lookups find them', () => {
    expect(new Set(ENTITY_TYPES).size).toBe(CATALOG.length);
    expect(new Set(CATALOG.map((e) => e.table)).size).toBe(CATALOG.length);
    expect(new Set(CATALOG.map((e) => e.centralName)).size).toBe(CATALOG.length);
    expect(CATALOG.length).toBe(TABLES.length);
    for (const e of CATALOG) {
      expect(entryForEntity(e.entityType)).toBe(e);
      expect(entryForTable(e.table)).toBe(e);
    }
    expect(entryForEntity('Nope')).toBeUndefined();
  });

  it('names the seed tables with the seed entity types', () => {
    expect(entry('Product').table).toBe('products');
    expect(entry('SaleOrder').table).toBe('orders');
    expect(entry('SaleOrderItem').table).toBe('order_items');
    expect(entry('Payment').table).toBe('payments');
    expect(entry('InventoryItem').table).toBe('inventory_items');
    expect(entry('Customer').table).toBe('customers');
  });

  it('every foreign key references a catalog table that comes earlier (or the table itself)', () => {
    CATALOG.forEach((e, i) => {
      for (const c of e.wireColumns) {
        if (c.def.references === undefined) continue;
        const target = indexOf(c.def.references);
        expect(target, `${e.table}.${c.local} -> ${c.def.references}`).toBeGreaterThanOrEqual(0);
        expect(target, `${e.table}.${c.local} -> ${c.def.references} must come first`).toBeLessThanOrEqual(i);
        expect(c.def.type, `${e.table}.${c.local} holds a central text id`).toBe('text');
      }
    });
    // The one self-reference: the category tree.
    expect(entry('Category').wireColumns.find((c) => c.local === 'parent_id')?.def.references).toBe('categories');
  });

  it('a transaction group names an earlier parent through a column that references it', () => {
    CATALOG.forEach((e, i) => {
      if (!e.group) return;
      expect(indexOf(e.group.parent)).toBeGreaterThanOrEqual(0);
      expect(indexOf(e.group.parent)).toBeLessThan(i);
      expect(e.columns[e.group.via]?.references, `${e.table}.${e.group.via}`).toBe(e.group.parent);
    });
    expect(entry('SaleOrderItem').group).toEqual({ parent: 'orders', via: 'order_id' });
    expect(entry('Payment').group).toEqual({ parent: 'orders', via: 'order_id' });
  });

  it("the store column exists: 'id' for stores, otherwise a column referencing stores; its central name is derived", () => {
    for (const e of CATALOG) {
      if (e.storeColumn === undefined) {
        expect(e.centralStoreColumn).toBeUndefined();
        continue;
      }
      if (e.storeColumn === 'id') {
        expect(e.table).toBe('stores');
        expect(e.centralStoreColumn).toBe(CENTRAL_KEY);
        continue;
      }
      const col = e.columns[e.storeColumn];
      expect(col, `${e.table}.${e.storeColumn}`).toBeDefined();
      expect(col?.references).toBe('stores');
      expect(e.centralStoreColumn).toBe(col?.central ?? e.storeColumn);
      expect(e.wireColumns.some((w) => w.name === e.centralStoreColumn)).toBe(true);
    }
    expect(entry('Store').storeColumn).toBe('id');
    expect(entry('Product').storeColumn).toBeUndefined(); // global catalogue
  });

  it('counters exist, are integer or numeric, and only MERGE tables have them', () => {
    for (const e of CATALOG) {
      if (!e.counters) continue;
      expect(e.conflictStrategy, e.table).toBe('MERGE');
      expect(e.counters.length).toBeGreaterThan(0);
      for (const name of e.counters) {
        const col = e.wireColumns.find((c) => c.name === name);
        expect(col, `${e.table}.${name}`).toBeDefined();
        expect(['integer', 'numeric']).toContain(col?.def.type);
      }
    }
    expect(entry('Customer').counters).toEqual(['loyalty_points', 'total_spent', 'visit_count']);
  });

  it('wire columns are unique per table and never a key, a sync column or a local-only column', () => {
    const reserved = new Set<string>([CENTRAL_KEY, ...Object.values(CENTRAL_SYNC_COLUMNS), ...LOCAL_ONLY_COLUMNS]);
    for (const e of CATALOG) {
      const names = e.wireColumns.map((c) => c.name);
      expect(new Set(names).size, e.table).toBe(names.length);
      expect(new Set(e.wireColumns.map((c) => c.local)).size).toBe(names.length);
      for (const c of e.wireColumns) {
        expect(reserved.has(c.name), `${e.table}.${c.name}`).toBe(false);
        expect(reserved.has(c.local), `${e.table}.${c.local}`).toBe(false);
      }
    }
  });

  it('inventory stock_quantity is master_stock_quantity at central and on the wire', () => {
    const inv = entry('InventoryItem');
    expect(inv.wireColumns.find((c) => c.local === 'stock_quantity')).toMatchObject({ name: 'master_stock_quantity', local: 'stock_quantity' });
    expect(inv.wireColumns.some((c) => c.name === 'stock_quantity')).toBe(false);
    expect(inv.rowSchema.safeParse({ master_stock_quantity: 5 }).success).toBe(true);
    expect(inv.rowSchema.safeParse({ stock_quantity: 5 }).success).toBe(false);
  });

  it('strategies, priorities and directions are the seed defaults', () => {
    for (const e of CATALOG) {
      expect(CONFLICT_STRATEGIES).toContain(e.conflictStrategy);
      expect(['up', 'down', 'both']).toContain(e.direction);
      expect(pushable(e) || pullable(e)).toBe(true);
      const priorities = typeof e.priority === 'number' ? [e.priority] : [e.priority.otherwise, ...Object.values(e.priority.when)];
      for (const p of priorities) {
        expect(Number.isInteger(p)).toBe(true);
        expect(p).toBeGreaterThanOrEqual(1);
        expect(p).toBeLessThanOrEqual(10);
      }
    }
    expect(entry('Product').conflictStrategy).toBe('CENTRAL_WINS');
    expect(entry('InventoryItem').conflictStrategy).toBe('CENTRAL_WINS');
    expect(entry('Customer').conflictStrategy).toBe('MERGE');
    for (const t of ['SaleOrder', 'Payment']) {
      expect(entry(t)).toMatchObject({ conflictStrategy: 'TERMINAL_WINS', appendOnly: true, direction: 'up' });
    }
    expect(priorityOf(entry('SaleOrder').priority, { status: 'completed' })).toBe(10);
    expect(priorityOf(entry('SaleOrder').priority, { status: 'pending' })).toBe(8);
    expect(priorityOf(entry('Payment').priority, {})).toBe(10);
    expect(pullable(entry('SaleOrder'))).toBe(false);
    expect(pushable(entry('Store'))).toBe(false);
  });
});

describe('rowSchema', () => {
  it('rejects unknown fields in every table, and accepts an empty or id-only image', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CATALOG),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.jsonValue(),
        (e, field, v) => {
          fc.pre(field !== CENTRAL_KEY && !e.wireColumns.some((c) => c.name === field));
          expect(e.rowSchema.safeParse({ [field]: v }).success).toBe(false);
        },
      ),
    );
    for (const e of CATALOG) {
      expect(e.rowSchema.safeParse({}).success).toBe(true);
      expect(e.rowSchema.safeParse({ id: 'x-1' }).success).toBe(true);
      expect(e.rowSchema.safeParse({ id: '' }).success).toBe(false);
      // Local-only columns never cross the wire.
      for (const local of LOCAL_ONLY_COLUMNS) expect(e.rowSchema.safeParse({ [local]: 1 }).success, `${e.table}.${local}`).toBe(false);
    }
  });

  it('checks value types, enumerations and decimal strings', () => {
    const product = entry('Product').rowSchema;
    expect(product.safeParse({ sku: 'A', name: 'Soap', price: 2.5, active: true, created_at: '2026-01-02T03:04:05.000Z' }).success).toBe(true);
    expect(product.safeParse({ price: '12.50' }).success).toBe(true);
    expect(product.safeParse({ price: 'twelve' }).success).toBe(false);
    expect(product.safeParse({ price: Number.NaN }).success).toBe(false);
    expect(product.safeParse({ active: 'yes' }).success).toBe(false);
    expect(product.safeParse({ created_at: 'yesterday' }).success).toBe(false);
    expect(product.safeParse({ barcode: null }).success).toBe(true);
    const order = entry('SaleOrder').rowSchema;
    expect(order.safeParse({ status: 'completed' }).success).toBe(true);
    expect(order.safeParse({ status: 'stolen' }).success).toBe(false);
    expect(entry('Customer').rowSchema.safeParse({ loyalty_points: 1.5 }).success).toBe(false);
    expect(entry('AuditLog').rowSchema.safeParse({ details: { a: [1, { b: null }] } }).success).toBe(true);
  });
});

describe('schemaHash', () => {
  it('is the fingerprint of the wire shape, and differs between tables', () => {
    for (const e of CATALOG) {
      expect(e.schemaHash).toMatch(/^[0-9a-f]{16}$/);
      expect(e.schemaHash).toBe(hashOf(shapeOf(e)));
    }
    expect(new Set(CATALOG.map((e) => e.schemaHash)).size).toBe(CATALOG.length);
  });

  it('is stable: a fresh load of the catalog gives the same hashes', async () => {
    vi.resetModules();
    const fresh = await import('../../src/shared/catalog/index.js');
    expect(fresh.CATALOG).not.toBe(CATALOG);
    expect(fresh.CATALOG.map((e) => e.schemaHash)).toEqual(CATALOG.map((e) => e.schemaHash));
  });

  it('keeps its algorithm: deployed terminals compare against hashes computed the same way', () => {
    // Pinned values: changing the fingerprint would pause sync of every table on every terminal.
    expect(fingerprint('')).toBe('811c9dc55ad1e806');
    expect(fingerprint('Product|products|sku:text::1|price:numeric::1')).toBe('a2cac46c0bef87f3');
  });

  it('changes when a column changes its type, name, reference or requiredness, or a column is added or removed', () => {
    const types = ['text', 'integer', 'numeric', 'boolean', 'timestamp', 'json'] as const;
    for (const e of CATALOG) {
      const base = shapeOf(e);
      const original = hashOf(base);
      expect(original).toBe(e.schemaHash);
      base.columns.forEach((col, i) => {
        const variants: Shape[] = [];
        const withCol = (def: Partial<ColumnDef>, name = col.name): Shape => ({
          ...base,
          columns: base.columns.map((c, j) => (j === i ? { name, def: { ...c.def, ...def } } : c)),
        });
        variants.push(withCol({ type: types.find((t) => t !== col.def.type) as ColumnDef['type'] }));
        variants.push(withCol({}, `${col.name}_renamed`));
        variants.push(withCol({ required: !col.def.required }));
        variants.push(withCol({ references: col.def.references ? undefined : 'stores' }));
        variants.push({ ...base, columns: base.columns.filter((_, j) => j !== i) });
        for (const v of variants) expect(hashOf(v), `${e.table}.${col.name}`).not.toBe(original);
      });
      expect(hashOf({ ...base, columns: [...base.columns, { name: 'extra', def: { type: 'text' } }] })).not.toBe(original);
      expect(hashOf({ ...base, centralName: `${base.centralName}_v2` })).not.toBe(original);
    }
  });

  it('fingerprint is deterministic, 16 hex digits, and tells apart strings that differ', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (a, b) => {
        expect(fingerprint(a)).toBe(fingerprint(a));
        expect(fingerprint(a)).toMatch(/^[0-9a-f]{16}$/);
        if (a !== b) expect(fingerprint(a)).not.toBe(fingerprint(b));
      }),
    );
  });
});

describe('generated drizzle schemas (drift guard)', () => {
  it('drizzle/central/schema.ts is what the catalog renders (run npm run db:generate after changing the catalog)', () => {
    const committed = readFileSync(new URL('../../drizzle/central/schema.ts', import.meta.url), 'utf8');
    expect(committed).toBe(renderCentralSchema());
  });

  it('drizzle/terminal/schema.ts is what the catalog renders (run npm run db:generate after changing the catalog)', () => {
    const committed = readFileSync(new URL('../../drizzle/terminal/schema.ts', import.meta.url), 'utf8');
    expect(committed).toBe(renderTerminalSchema());
  });

  it('the rendered schemas name every table and the renamed stock column', () => {
    const central = renderCentralSchema();
    const terminal = renderTerminalSchema();
    for (const e of CATALOG) {
      expect(central).toContain(`pgTable('${e.centralName}'`);
      expect(terminal).toContain(`sqliteTable('${e.table}'`);
    }
    expect(central).toContain(`numeric('master_stock_quantity'`);
    expect(terminal).toContain(`real('stock_quantity')`);
    expect(central).not.toContain(`'stock_quantity'`);
  });
});
