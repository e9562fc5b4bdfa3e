/**
 * Delivery down is event-driven (DESIGN invariant 11): central tells the terminals a
 * committed change concerns (by store scope and by the tables they pull), over
 * socket.io (`sync:changes`), whoever wrote it (plain SQL here), coalesced so a bulk
 * import is a handful of hints per terminal. Real central, real database (PGlite, or
 * PostgreSQL with TEST_DATABASE_URL), real sockets.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { concerned, HintCoalescer, type HintTargets } from '../../src/server/services/change-hints.js';
import type { ChangesHint } from '../../src/shared/protocol.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { closeSockets, connect, register, type Conn } from '../helpers/socket.js';
import { waitUntil } from '../helpers/processes.js';
import { pushOk } from '../helpers/sync.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uid = () => randomUUID();

describe('which terminals a change concerns (pure)', () => {
  const targets: HintTargets = {
    inStore: (s) => ({ A: ['a1', 'a2'], B: ['b1'] })[s] ?? [],
    all: () => ['a1', 'a2', 'b1'],
  };
  it("a store's rows concern its terminals, global rows every terminal, never the writer", () => {
    expect(concerned({ t: 'InventoryItem', s: 'A', o: 'central' }, targets)).toEqual(['a1', 'a2']);
    expect(concerned({ t: 'Product', s: null, o: null }, targets)).toEqual(['a1', 'a2', 'b1']);
    expect(concerned({ t: 'Customer', s: null, o: 'a2' }, targets)).toEqual(['a1', 'b1']);
    expect(concerned({ t: 'InventoryItem', s: 'C', o: null }, targets)).toEqual([]);
  });
});

describe('hints are coalesced per terminal', () => {
  it('the first goes after the lead time; while changes keep coming the window doubles; after a quiet spell a change goes at once', async () => {
    const sent: { id: string; types: string[]; at: number }[] = [];
    const started = Date.now();
    const c = new HintCoalescer({ leadMs: 5, windowMs: 100, maxWindowMs: 400, busyAnnouncements: 8 }, (id, types) => sent.push({ id, types, at: Date.now() - started }));
    try {
      c.add('t1', ['Product']);
      c.add('t1', ['Category']);
      await sleep(40);
      expect(sent).toEqual([{ id: 't1', types: ['Category', 'Product'], at: expect.any(Number) }]);
      // A storm of announcements for 1.5 s: the gaps between hints grow 200, 400, 400 ... ms.
      for (let i = 0; i < 150; i++) {
        for (let j = 0; j < 10; j++) c.add('t1', [j % 2 ? 'Product' : 'InventoryItem']);
        await sleep(10);
      }
      await sleep(500);
      const storm = sent.slice(1);
      expect(storm.length).toBeGreaterThanOrEqual(3);
      expect(storm.length).toBeLessThanOrEqual(7); // a window fixed at 100 ms would have sent 15
      for (let i = 1; i < storm.length; i++) expect((storm[i] as { at: number }).at - (storm[i - 1] as { at: number }).at).toBeGreaterThanOrEqual(190);
      expect(storm[storm.length - 1]?.types).toEqual(['Product', 'InventoryItem']);
      // Quiet for longer than twice the window: the next change is hinted within the lead time.
      await sleep(1200);
      const quietAt = Date.now() - started;
      c.add('t1', ['Product']);
      await sleep(60);
      expect(sent.length).toBe(storm.length + 2);
      expect((sent[sent.length - 1] as { at: number }).at - quietAt).toBeLessThan(50);
    } finally {
      c.stop();
    }
  });
});

describe('a trickle of changes is hinted promptly', () => {
  it('HQ changing a price now and then never makes the window grow: each hint within the shortest window', async () => {
    const sent: number[] = [];
    const c = new HintCoalescer({ leadMs: 5, windowMs: 100, maxWindowMs: 4000, busyAnnouncements: 8 }, () => sent.push(Date.now()));
    try {
      const added: number[] = [];
      for (let i = 0; i < 15; i++) {
        added.push(Date.now());
        c.add('t1', ['Product']);
        await sleep(60); // closer together than the window: gathered, but never many
      }
      await sleep(200);
      // Every change is hinted within the shortest window (100 ms) plus timer slack; a growing window would reach 4 s.
      for (const a of added) {
        const hint = sent.find((t) => t >= a);
        expect(hint, 'a hint after each change').toBeDefined();
        expect((hint as number) - a).toBeLessThan(180);
      }
    } finally {
      c.stop();
    }
  });
});

describe('sync:changes from central', () => {
  const c = useCentral();
  let storeA: string;
  let storeB: string;
  let tA: ProvisionedTerminal;
  let tA2: ProvisionedTerminal;
  let tB: ProvisionedTerminal;
  afterEach(closeSockets);

  beforeAll(async () => {
    const tag = uid().slice(0, 6);
    storeA = `hint-a-${tag}`;
    storeB = `hint-b-${tag}`;
    tA = await c.provision(storeA);
    tA2 = await c.provision(storeA);
    tB = await c.provision(storeB);
  });

  async function listening(t: ProvisionedTerminal): Promise<Conn & { hints: ChangesHint[] }> {
    const conn = await connect(c.url, t);
    const hints: ChangesHint[] = [];
    conn.socket.on('sync:changes', (h: ChangesHint) => hints.push(h));
    expect(await register(conn)).toEqual({ ok: true });
    return { ...conn, hints };
  }

  it("a price HQ changes by plain SQL is hinted to every terminal; a store's stock only to that store's", async () => {
    const [a, a2, b] = [await listening(tA), await listening(tA2), await listening(tB)];
    const product = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Hinted', 2)`, [product, `H-${product.slice(0, 6)}`]);
    for (const conn of [a, a2, b]) await waitUntil('a Product hint', () => conn.hints.some((h) => h.entityTypes.includes('Product')), { timeout: 5_000 });
    expect(a.hints[0]).toMatchObject({ terminalId: tA.terminalId, entityTypes: ['Product'] });

    await sleep(600); // a quiet spell: the next change is hinted at once
    const before = { a: a.hints.length, b: b.hints.length };
    await c.db.query(`INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $3, 5)`, [uid(), storeA, product]);
    await waitUntil('an InventoryItem hint to store A', () => a.hints.slice(before.a).some((h) => h.entityTypes.includes('InventoryItem')), { timeout: 5_000 });
    await waitUntil('an InventoryItem hint to the other till of store A', () => a2.hints.some((h) => h.entityTypes.includes('InventoryItem')), { timeout: 5_000 });
    await sleep(300);
    expect(b.hints.slice(before.b).some((h) => h.entityTypes.includes('InventoryItem'))).toBe(false);
  });

  it('a change a terminal pushed is hinted to the others, not to itself; sales (pulled by no terminal) are hinted to nobody', async () => {
    const [a, a2] = [await listening(tA), await listening(tA2)];
    await pushOk(tA, [{ changeId: uid(), entityType: 'Customer', entityId: uid(), operation: 'CREATE', data: { name: 'Walks to the next store' } }]);
    await waitUntil('a Customer hint to the other till', () => a2.hints.some((h) => h.entityTypes.includes('Customer')), { timeout: 5_000 });
    await pushOk(tA, [{ changeId: uid(), entityType: 'SaleOrder', entityId: uid(), operation: 'CREATE', data: { order_number: 'H-1', status: 'completed' } }]);
    await sleep(800);
    expect(a.hints.some((h) => h.entityTypes.includes('Customer'))).toBe(false);
    expect([...a.hints, ...a2.hints].some((h) => h.entityTypes.includes('SaleOrder'))).toBe(false);
  });

  it('a bulk import of 20,000 prices in 40 transactions is a handful of hints per terminal', async () => {
    const [a, b] = [await listening(tA), await listening(tB)];
    await sleep(600);
    const before = { a: a.hints.length, b: b.hints.length };
    const ids = Array.from({ length: 20_000 }, () => uid());
    for (let i = 0; i < ids.length; i += 500) {
      await c.db.query(
        `INSERT INTO products (id, sku, name, price) SELECT id, 'BULK-' || id, 'Bulk', 1 FROM unnest($1::text[]) AS id`,
        [ids.slice(i, i + 500)],
      );
    }
    await sleep(4500); // the last window closes
    const hintsA = a.hints.slice(before.a);
    const hintsB = b.hints.slice(before.b);
    expect(hintsA.length).toBeGreaterThanOrEqual(1);
    // The window grows while the import runs (up to 4 s): a handful, whatever the import's length.
    expect(hintsA.length).toBeLessThanOrEqual(8);
    expect(hintsB.length).toBeLessThanOrEqual(8);
    expect(hintsA.every((h) => h.entityTypes.includes('Product'))).toBe(true);
  });
});
