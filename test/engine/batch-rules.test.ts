/** How a row's queued entries fold into the one change a batch sends (pure rules, property tests). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entryForTable, type CatalogEntry } from '../../src/shared/catalog/index.js';
import { crossesTiers, splitGroups, tierOf, foldOperations, groupOf, inFlight, lastImage, planRow, pointsAtBusy, type OutgoingChange, type Operation } from '../../src/main/sync/store/batch-rules.js';

interface E {
  id: number;
  operation: Operation;
  sent_as: string | null;
  new_image: string | null;
}

/** What central holds of one row: nothing, or an image. */
type Central = { readonly exists: false } | { readonly exists: true; readonly image: string };

const applyOne = (s: Central, op: Operation, image: string | null): Central =>
  op === 'DELETE' ? { exists: false } : { exists: true, image: image as string };

const image = fc.integer({ min: 0, max: 1000 }).map((n) => JSON.stringify({ id: 1, name: `v${n}` }));

/** A row's life since it was last at central: made here (CREATE first) or known to central; maybe deleted at the end. */
const history = fc
  .record({ created: fc.boolean(), updates: fc.array(image, { maxLength: 6 }), first: image, deleted: fc.boolean() })
  .filter((h) => h.created || h.updates.length > 0 || h.deleted)
  .map(({ created, updates, first, deleted }) => {
    const ops: { op: Operation; image: string | null }[] = [];
    if (created) ops.push({ op: 'CREATE', image: first });
    for (const u of updates) ops.push({ op: 'UPDATE', image: u });
    if (deleted) ops.push({ op: 'DELETE', image: null });
    const entries: E[] = ops.map((o, i) => ({ id: i + 1, operation: o.op, sent_as: null, new_image: o.image }));
    const start: Central = created ? { exists: false } : { exists: true, image: JSON.stringify({ id: 1, name: 'at central' }) };
    return { entries, start };
  });

describe('folding a row’s entries into one change', () => {
  it('sending the folded change leaves central as applying every entry in order would', () => {
    fc.assert(
      fc.property(history, ({ entries, start }) => {
        const inOrder = entries.reduce<Central>((s, e) => applyOne(s, e.operation, e.new_image), start);
        const plan = planRow(entries, undefined, 0);
        expect(plan.kind).not.toBe('wait');
        const folded = plan.kind === 'send' ? applyOne(start, plan.operation, lastImage(plan.members) ? JSON.stringify(lastImage(plan.members)) : null) : start;
        expect(folded).toEqual(inOrder);
        // Every entry is accounted for: sent or settled, none left behind.
        if (plan.kind !== 'wait') expect(plan.members.map((m) => m.id)).toEqual(entries.map((e) => e.id));
      }),
    );
  });

  it('a row created and deleted before any push cancels to nothing, whatever happened between', () => {
    fc.assert(
      fc.property(fc.array(fc.constant<Operation>('UPDATE'), { maxLength: 8 }), (middle) => {
        expect(foldOperations(['CREATE', ...middle, 'DELETE'], false)).toBeNull();
        // Once sent, the create is at central: it is not cancelled.
        expect(foldOperations(['CREATE', ...middle, 'DELETE'], true)).not.toBeNull();
      }),
    );
  });

  it('updates fold into one update; a create and its updates into a create; anything ending in a delete of a known row into a delete', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.boolean(), (n, sent) => {
        const updates = Array.from({ length: n }, (): Operation => 'UPDATE');
        expect(foldOperations(updates, sent)).toBe('UPDATE');
        expect(foldOperations(['CREATE', ...updates], sent)).toBe('CREATE');
        expect(foldOperations([...updates, 'DELETE'], sent)).toBe('DELETE');
      }),
    );
  });

  it('an earlier attempt still pending goes first, alone and unchanged; while it waits out a pause nothing of the row goes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (sentN, newN, now, due) => {
        const sent: E[] = Array.from({ length: sentN }, (_, i) => ({ id: i + 1, operation: 'UPDATE', sent_as: 'c-1', new_image: '{}' }));
        // A later attempt of the row, sent after the first and still pending too: it waits its turn.
        const later: E = { id: sentN + 1, operation: 'UPDATE', sent_as: 'c-2', new_image: '{}' };
        const fresh: E[] = Array.from({ length: newN }, (_, i) => ({ id: sentN + i + 2, operation: 'UPDATE', sent_as: null, new_image: '{}' }));
        const plan = planRow([...sent, later, ...fresh], { sent_as: 'c-1', next_attempt_at: due }, now);
        if (due > now) expect(plan.kind).toBe('wait');
        else expect(plan.kind === 'send' ? plan.members : []).toEqual(sent);
        // With no earlier attempt, only entries never sent go.
        const unsent = planRow(fresh, undefined, now);
        expect(unsent.kind === 'send' ? unsent.members : []).toEqual(fresh);
      }),
    );
  });
});

describe('transaction groups', () => {
  const orders = entryForTable('orders') as CatalogEntry;
  const items = entryForTable('order_items') as CatalogEntry;
  it('a child travels in its parent’s group, a parent in its own, found through the lookup or named by local id', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 1, max: 1000 }), fc.option(fc.uuid(), { nil: null }), (sid, parentLocal, parentSid) => {
        const via = items.group?.via as string;
        expect(groupOf(orders, {}, sid, () => null)).toBe(`orders:${sid}`);
        expect(groupOf(items, { [via]: parentLocal }, sid, (t, id) => (t === 'orders' && id === parentLocal ? parentSid : null))).toBe(
          `orders:${parentSid ?? `local-${parentLocal}`}`,
        );
      }),
    );
  });
});

describe('a batch sent while another is at central', () => {
  const change = (table: string, entityId: string, data?: Record<string, unknown>): OutgoingChange => {
    const entry = entryForTable(table) as CatalogEntry;
    return { entry, entryIds: [1], wire: null, change: { changeId: `c-${entityId}`, entityType: entry.entityType, entityId, operation: 'CREATE', syncVersion: 0, ...(data ? { data: { id: entityId, ...data } } : {}) } };
  };
  const atCentral = inFlight({ changes: [change('products', 'p1', { sku: 'A', name: 'A', price: 1 })], cancelled: 0, invalid: 0 });

  it('points at it when a change sets a foreign key to one of its rows, required or not', () => {
    expect(pointsAtBusy([change('customers', 'k1', { name: 'K' }), change('product_variants', 'v1', { product_id: 'p1', sku: 'V', name: 'V' })], atCentral)).toBe(true);
    expect(pointsAtBusy([change('order_items', 'i1', { order_id: 'o1', product_id: 'p1', quantity: 1 })], atCentral)).toBe(true);
  });

  it('does not for other rows, a row of the same id in another table, a delete (no data), or nothing at central', () => {
    expect(pointsAtBusy([change('product_variants', 'v1', { product_id: 'p2', sku: 'V', name: 'V' })], atCentral)).toBe(false);
    expect(pointsAtBusy([change('orders', 'o1', { customer_id: 'p1' })], atCentral)).toBe(false); // p1 is a product, not a customer
    expect(pointsAtBusy([change('product_variants', 'v1')], atCentral)).toBe(false);
    expect(pointsAtBusy([change('product_variants', 'v1', { product_id: 'p1' })], { groups: new Set(), rows: new Set() })).toBe(false);
  });
});

/** An outgoing create of a row at `priority`, in transaction group `group` (none: its own). */
const prioritized = (table: string, entityId: string, priority: number, group?: string): OutgoingChange => {
  const entry = entryForTable(table) as CatalogEntry;
  return {
    entry,
    entryIds: [1],
    wire: null,
    change: { changeId: `c-${entityId}`, entityType: entry.entityType, entityId, operation: 'CREATE', syncVersion: 0, priority, ...(group ? { transactionGroup: group } : {}) },
  };
};

describe('a batch beside the one at central', () => {
  const change = prioritized;
  /** A sale: the order and payment at 10, an item at 8, one group (it counts at 10). */
  const sale = (n: number) => [change('orders', `o${n}`, 10, `orders:o${n}`), change('order_items', `i${n}`, 8, `orders:o${n}`), change('payments', `p${n}`, 10, `orders:o${n}`)];

  it('ranks priorities in the tiers of DESIGN.md', () => {
    expect([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0].map(tierOf)).toEqual([10, 8, 8, 5, 5, 5, 3, 3, 1, 1, 1]);
  });

  it('waits for its answer unless the groups of both are of one tier', () => {
    expect(crossesTiers([change('customers', 'k1', 6)], sale(1))).toBe(true);
    expect(crossesTiers([change('inventory_transactions', 's1', 9)], sale(1))).toBe(true); // HIGH after CRITICAL
    expect(crossesTiers([...sale(2), change('customers', 'k1', 6)], sale(1))).toBe(true); // a batch across a boundary
    // A batch at central across a boundary: even one of its lowest level could commit before its higher groups.
    expect(crossesTiers([change('customers', 'k2', 6)], [...sale(1), change('customers', 'k1', 6)])).toBe(true);
    expect(crossesTiers([change('audit_logs', 'a2', 1)], [change('products', 'p1', 5), change('audit_logs', 'a1', 1)])).toBe(true);
    // A higher group built after the batch at central (a newer change of one of its rows) could commit after it.
    expect(crossesTiers([change('customers', 'k2', 6), change('orders', 'o1', 10)], [change('customers', 'k1', 6)])).toBe(true);
  });

  it('goes beside it when both are of one tier, a group counting at its highest priority', () => {
    expect(crossesTiers(sale(2), sale(1))).toBe(false); // the items at 8 count at their order's 10
    expect(crossesTiers([change('inventory_items', 'v1', 8)], [change('inventory_transactions', 's1', 9)])).toBe(false); // HIGH, both
    expect(crossesTiers([change('products', 'p1', 5)], [change('customers', 'k1', 6)])).toBe(false); // MEDIUM, both
    expect(crossesTiers([change('customers', 'k2', 6)], [change('customers', 'k1', 6)])).toBe(false);
    expect(crossesTiers([change('customers', 'k1', 6)], [])).toBe(false);
    expect(crossesTiers([], sale(1))).toBe(false);
  });
});

describe('a batch central refuses as a whole', () => {
  const change = (table: string, entityId: string, group?: string, priority = 5): OutgoingChange => prioritized(table, entityId, priority, group);

  it('is split in halves of whole groups, the higher levels first, each in the batch’s order; a single group is not split', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ group: fc.integer({ min: 0, max: 5 }), priority: fc.constantFrom(1, 5, 6, 8, 9, 10) }), { minLength: 1, maxLength: 40 }), (rows) => {
        // As sent: parents before children (sendOrder), so a group's changes are far apart.
        const changes = rows.map((r, i) => change(i % 3 === 0 ? 'orders' : 'order_items', `r${i}`, `orders:g${r.group}`, r.priority));
        const halves = splitGroups(changes);
        const groups = new Set(rows.map((r) => r.group));
        if (groups.size < 2) {
          expect(halves).toBeNull();
          return;
        }
        expect(halves).not.toBeNull();
        const [a, b] = halves as [OutgoingChange[], OutgoingChange[]];
        expect(a.length).toBeGreaterThan(0);
        expect(b.length).toBeGreaterThan(0);
        const groupsOf = (xs: OutgoingChange[]) => new Set(xs.map((x) => x.change.transactionGroup));
        for (const g of groupsOf(a)) expect(groupsOf(b).has(g)).toBe(false); // no group in both
        // A group's level is its highest priority; no group of the second half is above one of the first.
        const level = (g: string | undefined) => Math.max(...changes.filter((x) => x.change.transactionGroup === g).map((x) => x.change.priority ?? 0));
        const lowestFirst = Math.min(...[...groupsOf(a)].map(level));
        for (const g of groupsOf(b)) expect(level(g)).toBeLessThanOrEqual(lowestFirst);
        // Every change once, each half in the batch's order.
        expect([...a, ...b].map((x) => x.change.entityId).sort()).toEqual(changes.map((x) => x.change.entityId).sort());
        for (const half of [a, b]) expect(half).toEqual(changes.filter((x) => half.includes(x)));
      }),
    );
    // Rows of no group are each their own; the higher first, whatever their order in the batch.
    expect(splitGroups([change('customers', 'k1', undefined, 6), change('orders', 'o1', undefined, 10)])?.map((h) => h.map((x) => x.change.entityId))).toEqual([['o1'], ['k1']]);
    expect(splitGroups([change('customers', 'k1'), change('customers', 'k2')])?.map((h) => h.map((x) => x.change.entityId))).toEqual([['k1'], ['k2']]);
    expect(splitGroups([change('customers', 'k1')])).toBeNull();
  });
});
