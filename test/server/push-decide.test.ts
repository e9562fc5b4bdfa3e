/**
 * Central's push decision (src/server/services/push-decide.ts) as properties: pure
 * functions of the change, its table, the row as the batch left it and the clock, so
 * no database here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOG, CENTRAL_KEY, entryForEntity, pushable, type CatalogEntry, type WireColumn, type WireRow, type WireValue } from '../../src/shared/catalog/index.js';
import { conflictInput, decideConflict, terminalIsLater } from '../../src/shared/conflict.js';
import { formatHlc } from '../../src/shared/hlc.js';
import { PushChange, type PushResult } from '../../src/shared/protocol.js';
import {
  answerRepeat,
  answerSeen,
  applyToSlot,
  decideChange,
  freshSlot,
  maybeReplay,
  mintedAt,
  staticCheck,
  type DecideClock,
  type Slot,
} from '../../src/server/services/push-decide.js';
import type { CentralRow } from '../../src/server/services/rows.js';

const ACTING = { terminalId: 't-1', storeId: 'store-1' };
const OTHER_STORE = 'store-2';
const NOW = '2026-01-02T03:04:05.000Z';
const NEW_ID = 'conflict-new';
const CLOCK: DecideClock = { now: NOW, newId: () => NEW_ID };
const ID = 'row-1';
const PUSHABLE = CATALOG.filter(pushable).map((e) => e.entityType);
const RUNS = { numRuns: 200 };
/** Tables go in and out of arbitraries by name (a counterexample then prints short). */
const E = (entityType: string) => entryForEntity(entityType) as CatalogEntry;

const hlcArb = fc
  .record({ physical: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_003 }), counter: fc.integer({ min: 0, max: 2 }), node: fc.constantFrom('a', 'b') })
  .map(formatHlc);
const optionalHlc = fc.option(hlcArb, { nil: undefined });

/** A non-null, schema-valid value for a column (the store column: the terminal's store). */
function valueArb(entry: CatalogEntry, col: WireColumn, foreignStores: boolean): fc.Arbitrary<WireValue> {
  if (col.name === entry.centralStoreColumn) return foreignStores ? fc.constantFrom(ACTING.storeId, OTHER_STORE) : fc.constant(ACTING.storeId);
  switch (col.def.type) {
    case 'text':
      if (col.def.oneOf) return fc.constantFrom(...col.def.oneOf);
      return col.def.references ? fc.constantFrom('p-1', 'p-2') : fc.constantFrom('', 'a', 'soap', 'two words');
    case 'integer':
      return fc.integer({ min: -50, max: 50 });
    case 'numeric':
      return fc.oneof(
        fc.integer({ min: -5000, max: 5000 }).map((n) => n / 100),
        fc.constantFrom('0', '1.50', '-2.25'),
      );
    case 'boolean':
      return fc.boolean();
    case 'timestamp':
      return fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }).map((ms) => new Date(ms).toISOString());
    case 'json':
      return fc.constantFrom<WireValue>({ a: 1 }, [1, 'x'], 'text', 3);
  }
}

/** An arbitrary per table, built once (building one per run is what would cost). */
function perTable<T>(build: (entry: CatalogEntry) => T): (entityType: string) => T {
  const built = new Map<string, T>();
  return (entityType) => {
    let a = built.get(entityType);
    if (a === undefined) {
      a = build(E(entityType));
      built.set(entityType, a);
    }
    return a;
  };
}

/** Every column of the table, required ones set (and the terminal's store). */
function fullRowOf(entry: CatalogEntry, id = ID): fc.Arbitrary<WireRow> {
  const shape: Record<string, fc.Arbitrary<WireValue>> = { [CENTRAL_KEY]: fc.constant(id) };
  for (const col of entry.wireColumns) {
    if (col.name === CENTRAL_KEY) continue;
    const v = valueArb(entry, col, false);
    shape[col.name] = col.def.required || col.name === entry.centralStoreColumn ? v : fc.option(v, { nil: null });
  }
  return fc.record(shape);
}

/** Any subset of the columns, each possibly null, stores possibly another store's. */
function anyRowOf(entry: CatalogEntry): fc.Arbitrary<WireRow> {
  const shape: Record<string, fc.Arbitrary<WireValue>> = {};
  for (const col of entry.wireColumns) {
    if (col.name !== CENTRAL_KEY) shape[col.name] = fc.option(valueArb(entry, col, true), { nil: null });
  }
  return fc.record(shape, { requiredKeys: [] }) as fc.Arbitrary<WireRow>;
}

const fullRow = perTable(fullRowOf);
const anyRow = perTable(anyRowOf);

const centralRowArb = (wire: fc.Arbitrary<WireRow>, tombstone: fc.Arbitrary<boolean>): fc.Arbitrary<CentralRow> =>
  fc.record({
    wire,
    version: fc.integer({ min: 1, max: 6 }),
    hlc: fc.option(hlcArb, { nil: null }),
    origin: fc.constantFrom<string | null>(null, 'hq', ACTING.terminalId),
    deletedAt: tombstone.map((t) => (t ? '2026-01-01T00:00:00.000Z' : null)),
    updatedAt: fc.constant('2026-01-01T00:00:00.000Z'),
  });

function slotOf(row: CentralRow | undefined, versionBeforeBatch?: number, openConflictId?: string): Slot {
  const slot = freshSlot(row);
  slot.versionBeforeBatch = row ? versionBeforeBatch : undefined;
  slot.openConflictId = openConflictId;
  return slot;
}

/** A change as the push schema leaves it (defaults applied); throws if the generator made an invalid one. */
function change(fields: Record<string, unknown>): PushChange {
  return PushChange.parse(fields);
}

/** Every wire column present, null where the image has none (what central writes). */
function filled(entry: CatalogEntry, row: WireRow): WireRow {
  const out: WireRow = { [CENTRAL_KEY]: row[CENTRAL_KEY] ?? null };
  for (const c of entry.wireColumns) out[c.name] = row[c.name] ?? null;
  return out;
}

/** The strategy's answer to a stale change, as the catalog's table of strategies says. */
function expectedResolution(entry: CatalogEntry, terminalHlc: string | null, centralHlc: string | null): string {
  switch (entry.conflictStrategy) {
    case 'TERMINAL_WINS':
      return 'TERMINAL_WINS';
    case 'CENTRAL_WINS':
      return 'CENTRAL_WINS';
    case 'MERGE':
      return 'MERGED';
    case 'MANUAL_MERGE':
      return 'PARKED';
    case 'LAST_WRITE_WINS':
      return terminalIsLater(terminalHlc, centralHlc) ? 'TERMINAL_WINS' : 'CENTRAL_WINS';
  }
}

/** A pushable table, with a live or tombstoned central row of the terminal's store, and a full image from the terminal. */
const sceneOf = perTable(({ entityType: type }) =>
  fc.record({
    type: fc.constant(type),
    current: centralRowArb(fullRow(type), fc.boolean()),
    data: fullRow(type),
    base: fc.option(fullRow(type), { nil: undefined }),
    hlc: optionalHlc,
    versionBeforeBatch: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    operation: fc.constantFrom('CREATE', 'UPDATE') as fc.Arbitrary<'CREATE' | 'UPDATE'>,
  }),
);
const scene = fc.constantFrom(...PUSHABLE).chain(sceneOf);

describe('decideChange: a change at the version central expects', () => {
  it('is applied and written as sent (a row new to central whatever version it names)', () => {
    fc.assert(
      fc.property(scene, fc.boolean(), fc.integer({ min: 0, max: 9 }), (s, isNew, anyVersion) => {
        const current = isNew ? undefined : s.current;
        const slot = slotOf(current, s.versionBeforeBatch);
        const expected = slot.versionBeforeBatch ?? current?.version ?? 0;
        const c = change({ changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, operation: s.operation, data: s.data, syncVersion: current ? expected : anyVersion, hlc: s.hlc });
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slot, ACTING, CLOCK);
        expect(d.result).toEqual({ changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, status: 'applied', version: current?.version ?? null });
        expect(d.conflict).toBeUndefined();
        expect(d.write).toEqual({ wire: filled(E(s.type), s.data), hlc: s.hlc ?? current?.hlc ?? null, deletedAt: null });
      }),
      RUNS,
    );
  });
});

describe('decideChange: a stale change (central moved on)', () => {
  it("is a conflict whose answer and write follow the table's strategy", () => {
    fc.assert(
      fc.property(scene, fc.integer({ min: 0, max: 9 }), fc.boolean(), (s, version, deleting) => {
        const slot = slotOf(s.current, s.versionBeforeBatch);
        const expected = slot.versionBeforeBatch ?? s.current.version;
        fc.pre(version !== expected && !(deleting && s.current.deletedAt));
        const c = change({
          changeId: 'change-01',
          entityType: E(s.type).entityType,
          entityId: ID,
          operation: deleting ? 'DELETE' : s.operation,
          data: deleting ? undefined : s.data,
          baseData: s.base,
          syncVersion: version,
          hlc: s.hlc,
        });
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slot, ACTING, CLOCK);
        const resolution = expectedResolution(E(s.type), s.hlc ?? null, s.current.hlc);
        expect(d.result).toMatchObject({ status: 'conflict', resolution, conflictId: NEW_ID, version: s.current.version });
        expect(d.conflict).toMatchObject({
          id: NEW_ID,
          changeId: 'change-01',
          strategy: E(s.type).conflictStrategy,
          status: resolution === 'PARKED' ? 'open' : 'resolved',
          resolution: resolution === 'PARKED' ? null : resolution,
          centralVersion: s.current.version,
          central: s.current.deletedAt ? { ...s.current.wire, _deleted: true } : s.current.wire,
        });
        const outcome = decideConflict(
          conflictInput(E(s.type), { base: s.base ?? null, terminal: deleting ? {} : s.data, central: s.current.wire, terminalHlc: s.hlc ?? null, centralHlc: s.current.hlc }),
        );
        const hlc = s.hlc ?? s.current.hlc;
        switch (resolution) {
          case 'TERMINAL_WINS':
            expect(d.write).toEqual({ wire: filled(E(s.type), { ...s.current.wire, ...(deleting ? {} : s.data) }), hlc, deletedAt: deleting ? NOW : null });
            expect(d.result.data).toBeUndefined();
            break;
          case 'CENTRAL_WINS':
            expect(d.write).toBeUndefined();
            expect(d.result.data).toEqual(s.current.deletedAt ? { ...s.current.wire, _deleted: true } : s.current.wire);
            break;
          case 'MERGED':
            expect(outcome.kind).toBe('MERGED');
            if (outcome.kind !== 'MERGED') return;
            expect(d.write).toEqual({ wire: filled(E(s.type), outcome.row), hlc, deletedAt: null });
            expect(d.result.data).toEqual(filled(E(s.type), outcome.row));
            break;
          case 'PARKED':
            expect(d.write).toBeUndefined();
            expect(d.result.data).toBeUndefined();
            break;
        }
      }),
      RUNS,
    );
  });
});

describe('decideChange: PARKED', () => {
  it('a row waiting for a supervisor takes every change onto its open conflict and writes nothing', () => {
    fc.assert(
      fc.property(scene, fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.constantFrom('CREATE', 'UPDATE', 'DELETE'), (s, isNew, version, operation) => {
        const current = isNew ? undefined : s.current;
        const slot = slotOf(current, s.versionBeforeBatch, 'open-1');
        const c = change({ changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, operation, data: operation === 'DELETE' ? undefined : s.data, syncVersion: version, hlc: s.hlc });
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slot, ACTING, CLOCK);
        expect(d.write).toBeUndefined();
        expect(d.result).toMatchObject({ status: 'conflict', resolution: 'PARKED', conflictId: 'open-1' });
        expect(d.conflict).toMatchObject({ id: 'open-1', status: 'open', resolution: null, centralVersion: current?.version ?? null });
        applyToSlot(slot, d, ACTING.terminalId, NOW);
        expect(slot.row).toBe(current);
        expect(slot.openConflictId).toBe('open-1');
      }),
      RUNS,
    );
  });

  it('a stale change to a MANUAL_MERGE table opens a conflict, writes nothing, and the next change of the row parks on it', () => {
    const manual = PUSHABLE.filter((t) => E(t).conflictStrategy === 'MANUAL_MERGE');
    expect(manual.length).toBeGreaterThan(0);
    const arb = fc.constantFrom(...manual).chain((type) => fc.record({ type: fc.constant(type), current: centralRowArb(fullRow(type), fc.boolean()), data: fullRow(type), next: fullRow(type) }));
    fc.assert(
      fc.property(arb, ({ type, current, data, next }) => {
        const entry = E(type);
        const slot = slotOf(current);
        const c = change({ changeId: 'change-01', entityType: entry.entityType, entityId: ID, operation: 'UPDATE', data, syncVersion: current.version - 1 });
        const d = decideChange({ changeId: 'change-01', change: c, entry }, slot, ACTING, CLOCK);
        expect(d.write).toBeUndefined();
        expect(d.result).toMatchObject({ status: 'conflict', resolution: 'PARKED', conflictId: NEW_ID });
        expect(d.conflict).toMatchObject({ id: NEW_ID, status: 'open', resolution: null });
        applyToSlot(slot, d, ACTING.terminalId, NOW);
        expect(slot.openConflictId).toBe(NEW_ID);
        expect(slot.write).toBeUndefined();
        const c2 = change({ changeId: 'change-02', entityType: entry.entityType, entityId: ID, operation: 'UPDATE', data: next, syncVersion: current.version });
        const d2 = decideChange({ changeId: 'change-02', change: c2, entry }, slot, ACTING, CLOCK);
        expect(d2.write).toBeUndefined();
        expect(d2.result).toMatchObject({ status: 'conflict', resolution: 'PARKED', conflictId: NEW_ID });
      }),
      RUNS,
    );
  });
});

describe('decideChange: a delete', () => {
  it('of a live row at the expected version writes a tombstone of the row as central has it', () => {
    fc.assert(
      fc.property(scene, optionalHlc, (s, hlc) => {
        const current = { ...s.current, deletedAt: null };
        const slot = slotOf(current, s.versionBeforeBatch);
        const c = change({ changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, operation: 'DELETE', syncVersion: slot.versionBeforeBatch ?? current.version, hlc });
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slot, ACTING, CLOCK);
        expect(d.result).toMatchObject({ status: 'applied', version: current.version });
        expect(d.write).toEqual({ wire: filled(E(s.type), current.wire), hlc: hlc ?? current.hlc, deletedAt: NOW });
        applyToSlot(slot, d, ACTING.terminalId, NOW);
        expect(slot.row).toMatchObject({ deletedAt: NOW, version: current.version + 1, origin: ACTING.terminalId });
      }),
      RUNS,
    );
  });

  it('of a row central does not have (or has deleted) writes nothing', () => {
    fc.assert(
      fc.property(scene, fc.boolean(), fc.integer({ min: 0, max: 9 }), (s, isNew, version) => {
        const current = isNew ? undefined : { ...s.current, deletedAt: NOW };
        const c = change({ changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, operation: 'DELETE', syncVersion: version });
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slotOf(current, s.versionBeforeBatch), ACTING, CLOCK);
        expect(d).toEqual({ result: { changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, status: 'applied', version: current?.version ?? null } });
      }),
      RUNS,
    );
  });
});

const resultArb: fc.Arbitrary<PushResult> = fc.oneof(
  fc.record({ status: fc.constantFrom('applied' as const), version: fc.integer({ min: 1, max: 9 }) }),
  fc.record({ status: fc.constantFrom('conflict' as const), version: fc.integer({ min: 1, max: 9 }), resolution: fc.constantFrom('PARKED' as const, 'CENTRAL_WINS' as const), conflictId: fc.constant('c-1') }),
  fc.record({ status: fc.constantFrom('duplicate' as const), version: fc.integer({ min: 1, max: 9 }), originalStatus: fc.constantFrom('applied' as const, 'conflict' as const) }),
  fc.record({ status: fc.constantFrom('rejected' as const), version: fc.constant(null), error: fc.record({ code: fc.constantFrom('MISSING_PARENT', 'FORBIDDEN_STORE'), message: fc.string() }) }),
).map((r) => ({ changeId: 'change-01', entityType: 'SaleOrder', entityId: ID, ...r }));

const replayed = change({ changeId: 'change-01', entityType: 'SaleOrder', entityId: ID, operation: 'DELETE' });

describe('a change id central has seen', () => {
  it('replayed with the same content (or an answer kept before hashes) is a duplicate of the original answer', () => {
    fc.assert(
      fc.property(resultArb, fc.constantFrom<string | null>('hash-a', null), (first, kept) => {
        const original = first.status === 'duplicate' ? first.originalStatus : first.status;
        const seen = answerSeen({ changeId: 'change-01', change: replayed, hash: 'hash-a' }, { terminalId: ACTING.terminalId, result: first, hash: kept }, ACTING);
        expect(seen).toEqual({ ...first, status: 'duplicate', originalStatus: original });
        const repeat = answerRepeat(first, true, replayed);
        expect(repeat).toEqual(first.status === 'rejected' ? first : { ...first, status: 'duplicate', originalStatus: original, entityId: ID });
      }),
      RUNS,
    );
  });

  it('with other content is CHANGE_ID_REUSED; used by another terminal, CHANGE_ID_TAKEN; neither writes', () => {
    fc.assert(
      fc.property(resultArb, fc.constantFrom('hash-b', 'hash-c'), (first, other) => {
        const reusedLater = answerSeen({ changeId: 'change-01', change: replayed, hash: 'hash-a' }, { terminalId: ACTING.terminalId, result: first, hash: other }, ACTING);
        expect(reusedLater).toMatchObject({ status: 'rejected', version: null, error: { code: 'CHANGE_ID_REUSED' } });
        expect(answerRepeat(first, false, replayed)).toMatchObject({ status: 'rejected', version: null, error: { code: 'CHANGE_ID_REUSED' } });
        for (const prior of [
          { terminalId: 't-2', result: first, hash: 'hash-a' },
          { terminalId: ACTING.terminalId, result: null, hash: 'hash-a' },
        ]) {
          expect(answerSeen({ changeId: 'change-01', change: replayed, hash: 'hash-a' }, prior, ACTING)).toMatchObject({
            status: 'rejected',
            error: { code: 'CHANGE_ID_TAKEN' },
          });
        }
      }),
      RUNS,
    );
  });
});

describe('the decision never throws for a schema-valid change', () => {
  it('whatever the table, row, slot, versions and stores', () => {
    const arbOf = perTable(({ entityType: type }) =>
      fc.record({
        type: fc.constant(type),
        operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE'),
        data: fc.option(anyRow(type), { nil: undefined }),
        baseData: fc.option(fc.option(anyRow(type), { nil: null }), { nil: undefined }),
        syncVersion: fc.integer({ min: 0, max: 9 }),
        hlc: optionalHlc,
        // Central's rows have every column (null where empty).
        current: fc.option(centralRowArb(anyRow(type).map((r) => filled(E(type), { ...r, id: ID })), fc.boolean()), { nil: undefined }),
        versionBeforeBatch: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
        open: fc.option(fc.constant('open-1'), { nil: undefined }),
        drift: fc.integer({ min: 0, max: 10_000 }),
      }),
    );
    const arb = fc.constantFrom(...CATALOG.map((e) => e.entityType)).chain(arbOf);
    fc.assert(
      fc.property(arb, ({ type, ...s }) => {
        const entry = E(type);
        const parsed = PushChange.safeParse({ changeId: 'change-01', entityType: entry.entityType, entityId: ID, operation: s.operation, data: s.data, baseData: s.baseData, syncVersion: s.syncVersion, hlc: s.hlc });
        fc.pre(parsed.success);
        if (!parsed.success) return;
        expect(() => staticCheck(entry, parsed.data, { [entry.entityType]: 'x' }, s.drift, 1_700_000_000_000)).not.toThrow();
        const slot = slotOf(s.current, s.versionBeforeBatch, s.open);
        const d = decideChange({ changeId: 'change-01', change: parsed.data, entry: entry }, slot, ACTING, CLOCK);
        expect(d.result).toMatchObject({ changeId: 'change-01', entityType: entry.entityType, entityId: ID });
        expect(['applied', 'conflict', 'rejected']).toContain(d.result.status);
        if (d.result.status === 'rejected') expect(d.write ?? d.conflict).toBeUndefined();
        if (d.write) expect(Object.keys(d.write.wire).sort()).toEqual([CENTRAL_KEY, ...entry.wireColumns.map((c) => c.name)].sort());
        // A row (or an image) of another store is never written.
        const storeCol = entry.centralStoreColumn;
        if (storeCol && d.write) expect(d.write.wire[storeCol]).toBe(ACTING.storeId);
        expect(() => applyToSlot(slot, d, ACTING.terminalId, NOW)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a change that may be a replay whose answer the purge removed', () => {
  /** The terminal's answers are gone up to this instant: every hlc of hlcArb is before it. */
  const PURGED = { ...CLOCK, replayHorizonMs: 1_700_000_000_010 };

  it('is applied only where the row proves it never was; elsewhere central keeps its row, whatever the strategy', () => {
    fc.assert(
      fc.property(scene, fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.boolean(), (s, isNew, version, deleting) => {
        const current = isNew ? undefined : s.current;
        const slot = slotOf(current, s.versionBeforeBatch);
        const expected = slot.versionBeforeBatch ?? current?.version ?? 0;
        fc.pre(!(deleting && (!current || current.deletedAt)));
        const c = change({
          changeId: 'change-01',
          entityType: E(s.type).entityType,
          entityId: ID,
          operation: deleting ? 'DELETE' : s.operation,
          data: deleting ? undefined : s.data,
          baseData: s.base,
          syncVersion: version,
          hlc: s.hlc,
        });
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slot, ACTING, PURGED);
        const unapplied = current ? version === expected : version === 0;
        if (unapplied) {
          // Exactly as if nothing had been purged.
          expect(d).toEqual(decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slotOf(current, s.versionBeforeBatch), ACTING, CLOCK));
          return;
        }
        expect(d.write).toBeUndefined();
        const central = current ? (current.deletedAt ? { ...current.wire, _deleted: true } : current.wire) : { [CENTRAL_KEY]: ID, _deleted: true };
        expect(d.result).toEqual({
          changeId: 'change-01',
          entityType: E(s.type).entityType,
          entityId: ID,
          status: 'conflict',
          resolution: 'CENTRAL_WINS',
          conflictId: NEW_ID,
          version: current?.version ?? null,
          data: central,
        });
        expect(d.conflict).toMatchObject({ id: NEW_ID, status: 'resolved', resolution: 'CENTRAL_WINS', strategy: E(s.type).conflictStrategy });
      }),
      RUNS,
    );
  });

  it('made after the newest purged answer, is decided as if nothing had been purged', () => {
    fc.assert(
      fc.property(scene, fc.boolean(), fc.integer({ min: 0, max: 9 }), hlcArb, (s, isNew, version, hlc) => {
        const current = isNew ? undefined : s.current;
        const c = change({ changeId: 'change-01', entityType: E(s.type).entityType, entityId: ID, operation: s.operation, data: s.data, baseData: s.base, syncVersion: version, hlc });
        const before = { ...CLOCK, replayHorizonMs: 1_699_999_999_999 };
        const d = decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slotOf(current, s.versionBeforeBatch), ACTING, before);
        expect(d).toEqual(decideChange({ changeId: 'change-01', change: c, entry: E(s.type) }, slotOf(current, s.versionBeforeBatch), ACTING, CLOCK));
      }),
      RUNS,
    );
  });

  it('is dated by its clock, else by its uuid7 id; one that says neither may be anything', () => {
    const hlc = formatHlc({ physical: 1_700_000_000_500, counter: 3, node: 'n' });
    expect(mintedAt({ hlc }, 'change-01')).toBe(1_700_000_000_500);
    // uuid7: the first 48 bits are the milliseconds.
    const v7 = '018bcfe5-6800-7abc-8def-0123456789ab';
    expect(mintedAt({}, v7)).toBe(0x018bcfe56800);
    expect(mintedAt({}, '6f1c2b4e-3d5a-4b6c-9d7e-8f9a0b1c2d3e')).toBeUndefined();
    expect(maybeReplay({ hlc }, 'x', undefined)).toBe(false);
    expect(maybeReplay({ hlc }, 'x', 1_700_000_000_500)).toBe(true);
    expect(maybeReplay({ hlc }, 'x', 1_700_000_000_499)).toBe(false);
    expect(maybeReplay({}, 'h:abc', 0)).toBe(true);
  });
});
