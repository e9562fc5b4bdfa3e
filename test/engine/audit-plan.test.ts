/**
 * The audit's bisection (pure): against central simulated by the same answerRange the
 * server uses, the bisection finds exactly the rows that differ, for every small case
 * and for seeded random ones; in step it takes one request. Also the shared canonical
 * form: each side's representation of a value gives the same hash, and ids are
 * ordered as SQLite and PostgreSQL's "C" collation order them.
 */
import { describe, expect, it } from 'vitest';
import type { AuditDifference } from '../../src/shared/audit-protocol.js';
import { answerRange, canonicalValue, compareIds, contentHash, inRange, type AuditRow, type IdRange, type RangeAnswer } from '../../src/shared/audit.js';
import { entryForTable } from '../../src/shared/catalog/index.js';
import { mulberry32 } from '../../src/shared/prng.js';
import { bisect, compareRows } from '../../src/main/sync/audit-plan.js';
import { tillView } from '../../src/main/sync/audit-rows.js';

interface Params {
  readonly fanOut: number;
  readonly listUpTo: number;
  /** Rows central reads per request. */
  readonly budget: number;
  readonly maxRanges: number;
}

const sorted = (rows: AuditRow[]) => [...rows].sort((a, b) => compareIds(a.id, b.id));

/** Central simulated: answers ranges in order from its rows, within a row budget per request, as the server does. */
function simulatedCentral(rows: AuditRow[], p: Params) {
  const all = sorted(rows);
  return async (ranges: IdRange[]): Promise<RangeAnswer[]> => {
    const out: RangeAnswer[] = [];
    let budget = p.budget;
    for (const r of ranges) {
      if (budget <= 0) break;
      const inside = all.filter((x) => inRange(x.id, r));
      const complete = inside.length <= budget;
      const taken = complete ? inside : inside.slice(0, budget);
      budget -= taken.length;
      out.push(answerRange(r, taken, complete, { fanOut: p.fanOut, listUpTo: p.listUpTo }));
    }
    return out;
  };
}

const key = (d: AuditDifference) => `${d.id}:${d.kind}:${d.tillVersion}:${d.centralVersion}`;

async function audit(central: AuditRow[], till: AuditRow[], p: Params) {
  const r = await bisect(simulatedCentral(central, p), tillView(sorted(till)), { maxRanges: p.maxRanges, maxRequests: 5_000 });
  return { ...r, found: r.differences.map(key).sort() };
}

const expected = (central: AuditRow[], till: AuditRow[]) => compareRows(central, till).map(key).sort();

const STATES = ['absent', 'central', 'till', 'same', 'content', 'version'] as const;
type State = (typeof STATES)[number];

function sides(ids: readonly string[], states: readonly State[]): { central: AuditRow[]; till: AuditRow[] } {
  const central: AuditRow[] = [];
  const till: AuditRow[] = [];
  ids.forEach((id, i) => {
    const s = states[i] as State;
    const row = { id, version: 1, hash: `h-${id}` };
    if (s === 'central' || s === 'same' || s === 'content' || s === 'version') central.push(row);
    if (s === 'till' || s === 'same') till.push(row);
    if (s === 'content') till.push({ ...row, hash: `other-${id}` });
    if (s === 'version') till.push({ ...row, version: 2 });
  });
  return { central, till };
}

describe('audit bisection', () => {
  it('finds exactly the differing rows in every case of four ids, six states each, over fan-outs, list sizes and row budgets', async () => {
    const ids = ['a', 'b', 'c', 'd'];
    const params: Params[] = [];
    for (const fanOut of [2, 3]) for (const listUpTo of [0, 2]) for (const budget of [1, 3, 1000]) for (const maxRanges of [1, 64]) params.push({ fanOut, listUpTo, budget, maxRanges });
    let cases = 0;
    for (let n = 0; n < STATES.length ** ids.length; n++) {
      const states = ids.map((_, i) => STATES[Math.floor(n / STATES.length ** i) % STATES.length] as State);
      const { central, till } = sides(ids, states);
      const want = expected(central, till);
      for (const p of params) {
        const got = await audit(central, till, p);
        if (got.found.join() !== want.join()) throw new Error(`states ${states.join(',')} params ${JSON.stringify(p)}: found ${got.found.join(' ')}, expected ${want.join(' ')}`);
        expect(got.centralRows).toBe(central.length);
        if (want.length === 0 && central.length <= p.budget) expect(got.requests).toBe(1);
        cases++;
      }
    }
    expect(cases).toBe(STATES.length ** ids.length * params.length);
  });

  it('finds exactly the differing rows in seeded random tables (the seed is printed; TILLSYNC_AUDIT_SEED replays it)', async () => {
    const seed = Number(process.env.TILLSYNC_AUDIT_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`audit bisection seed ${seed} (TILLSYNC_AUDIT_SEED=${seed} replays it)`);
    const rnd = mulberry32(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    // Ids mixing ASCII, the last BMP characters and characters beyond the BMP, whose UTF-16 and UTF-8 orders differ.
    const ALPHABET = ['0', '9', 'A', 'a', 'z', '-', '_', '\u00e9', '\uffee', '\u{1f600}', '\u{10000}'];
    for (let round = 0; round < 40; round++) {
      const n = int(3000);
      const ids = new Set<string>();
      while (ids.size < n) ids.add(Array.from({ length: 1 + int(6) }, () => ALPHABET[int(ALPHABET.length)]).join(''));
      const central: AuditRow[] = [...ids].map((id) => ({ id, version: 1 + int(5), hash: `h${int(1e9)}` }));
      const till: AuditRow[] = [];
      const changes = int(4) === 0 ? 0 : int(40);
      for (const row of central) {
        const r = rnd();
        if (r < changes / n / 3) continue; // missing at the till
        if (r < (2 * changes) / n / 3) till.push({ ...row, hash: `${row.hash}x` });
        else if (r < changes / n) till.push({ ...row, version: (row.version ?? 0) + 1 });
        else till.push(row);
      }
      for (let i = 0; i < int(changes); i++) till.push({ id: `till-only-${round}-${i}`, version: null, hash: 'h' });
      const p: Params = { fanOut: 2 + int(20), listUpTo: int(80), budget: 1 + int(5000), maxRanges: 1 + int(64) };
      const got = await audit(central, till, p);
      expect(got.found, `seed ${seed} round ${round} params ${JSON.stringify(p)}`).toEqual(expected(central, till));
      expect(got.centralRows).toBe(central.length);
      if (got.found.length === 0 && central.length <= p.budget) expect(got.requests).toBe(1);
    }
  });

  it('needs one request for 100,000 rows in step', async () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => ({ id: `id-${String(i).padStart(6, '0')}`, version: 1, hash: `h${i}` }));
    const got = await audit(rows, rows, { fanOut: 16, listUpTo: 64, budget: 200_000, maxRanges: 64 });
    expect(got).toMatchObject({ found: [], requests: 1, centralRows: 100_000 });
  });
});

describe('audit canonical form', () => {
  it('orders ids by their UTF-8 bytes, as SQLite BINARY and PostgreSQL "C" do', () => {
    const rnd = mulberry32(7);
    const chars = ['a', 'Z', '-', '\u00e9', '\u0800', '\ud7ff', '\ue000', '\uffff', '\u{10000}', '\u{1f600}'];
    for (let i = 0; i < 5000; i++) {
      const s = () => Array.from({ length: Math.floor(rnd() * 4) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
      const a = s();
      const b = s();
      expect(Math.sign(compareIds(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
    }
  });

  it("hashes each side's representation of a row alike (SQLite 0/1, JSON text, zone-less timestamps; PostgreSQL booleans, jsonb, ISO)", () => {
    const products = entryForTable('products');
    if (!products) throw new Error('no products table');
    const types = new Map(products.wireColumns.map((c) => [c.name, c.def.type]));
    expect([...types.values()]).toEqual(expect.arrayContaining(['boolean', 'numeric', 'timestamp']));
    const central: Record<string, unknown> = {};
    const till: Record<string, unknown> = {};
    for (const [name, type] of types) {
      if (type === 'boolean') [central[name], till[name]] = [true, 1];
      if (type === 'numeric') [central[name], till[name]] = [12.5, '12.50'];
      if (type === 'integer') [central[name], till[name]] = [3, 3n];
      if (type === 'timestamp') [central[name], till[name]] = ['2026-01-02T03:04:05.000Z', '2026-01-02 03:04:05'];
      if (type === 'json') [central[name], till[name]] = [{ b: 1, a: [1, { d: 2, c: 3 }] }, '{"a":[1,{"c":3,"d":2}],"b":1}'];
      if (type === 'text') [central[name], till[name]] = ['x', 'x'];
    }
    expect(contentHash(products, 'p1', till)).toBe(contentHash(products, 'p1', central));
    expect(contentHash(products, 'p1', { ...till, [products.wireColumns[0]?.name as string]: 'changed' })).not.toBe(contentHash(products, 'p1', central));
    expect(canonicalValue('timestamp', '2026-01-02')).toBe('2026-01-02T00:00:00.000Z');
    expect(canonicalValue('boolean', 0)).toBe(false);
    expect(canonicalValue('json', 'not json')).toBe('not json');
  });
});
