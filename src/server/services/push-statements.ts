/**
 * The two statements of a push's transaction: the read (answers already given, the
 * rows the batch touches, locked, their open conflicts, the parents it points at) and
 * the write (every table's rows, the conflict records and the answers). Builds the SQL,
 * runs it, and turns what comes back into the batch's slots; decides nothing.
 */
import { CATALOG, CENTRAL_SYNC_COLUMNS, entryForEntity, type CatalogEntry, type WireValue } from '../../shared/catalog/index.js';
import type { PushResult } from '../../shared/protocol.js';
import type { Queryable } from '../db/database.js';
import { literal } from '../db/sql.js';
import type { Acting } from './fleet.js';
import { keyOf, type TableWrites, type Work } from './push-batch.js';
import { freshSlot, type ConflictInsert, type Prior, type Slot } from './push-decide.js';
import { centralRowFromJson, lockedRowsBranch, parentRowsBranch, upsertRecords, upsertStatement } from './rows.js';

/** What the read statement found for a batch. */
export interface BatchRead {
  /** The tables the batch writes, in catalog order, and the ids it writes in each. */
  readonly types: readonly CatalogEntry[];
  readonly byType: ReadonlyMap<CatalogEntry, ReadonlySet<string>>;
  /** Every row the batch touches, by keyOf (a row not at central has an empty slot). */
  readonly slots: Map<string, Slot>;
  /** The answers already given to the batch's change ids. */
  readonly prior: ReadonlyMap<string, Prior>;
  /** The stores of the parents the batch points at and does not write itself (null: global). */
  readonly parents: ReadonlyMap<string, WireValue>;
  /** The newest of the terminal's answers the purge removed (null: none was). */
  readonly answersPurgedThrough: string | null;
  /** Entity types whose tombstones the purge has removed. */
  readonly purgedTypes: ReadonlySet<string>;
}

const byCatalogOrder = (a: CatalogEntry, b: CatalogEntry) => CATALOG.indexOf(a) - CATALOG.indexOf(b);

/**
 * The read: the answers already given to these change ids, the rows the batch touches
 * (locked, table by table in catalog order, by id), the terminal's open conflicts on
 * them, the parents it points at, and the writer's identity set for the capture triggers.
 */
export async function readBatch(tx: Queryable, acting: Acting, work: readonly Work[]): Promise<BatchRead> {
  const byType = new Map<CatalogEntry, Set<string>>();
  for (const w of work) {
    const ids = byType.get(w.entry) ?? new Set<string>();
    ids.add(w.change.entityId);
    byType.set(w.entry, ids);
  }
  // Catalog order, then id order: every batch takes its locks in one global order.
  const types = [...byType.keys()].sort(byCatalogOrder);
  const params: unknown[] = [acting.terminalId, work.map((w) => w.changeId), work.map((w) => w.change.entityId)];
  const branches = [
    `SELECT 'origin' AS kind, NULL::text AS entity_type, set_config('tillsync.origin', $1, true) AS id, NULL::jsonb AS row`,
    `SELECT 'applied', terminal_id, change_id, jsonb_build_object('r', result, 'h', content_hash) FROM sync_applied WHERE change_id = ANY($2::text[])`,
    `SELECT 'purged', NULL, id, to_jsonb(answers_purged_through) FROM sync_terminals WHERE id = $1 AND answers_purged_through IS NOT NULL`,
    `SELECT 'horizon', entity_type, entity_type, NULL FROM sync_purge_horizons`,
    `SELECT 'open', entity_type, entity_id, to_jsonb(id) FROM sync_conflicts
         WHERE terminal_id = $1 AND status = 'open' AND entity_id = ANY($3::text[])`,
  ];
  for (const entry of types) {
    params.push([...(byType.get(entry) as Set<string>)]);
    branches.push(lockedRowsBranch(entry, `$${params.length}`));
  }
  // The parents the batch points at that it does not write itself: read after the rows it writes.
  const parentIds = new Map<CatalogEntry, Set<string>>();
  for (const w of work) {
    for (const ref of w.parents) {
      if (byType.get(ref.parent)?.has(ref.id)) continue;
      const ids = parentIds.get(ref.parent) ?? new Set<string>();
      ids.add(ref.id);
      parentIds.set(ref.parent, ids);
    }
  }
  for (const entry of [...parentIds.keys()].sort(byCatalogOrder)) {
    params.push([...(parentIds.get(entry) as Set<string>)]);
    branches.push(parentRowsBranch(entry, `$${params.length}`));
  }
  const read = await tx.query<{ kind: string; entity_type: string | null; id: string; row: unknown }>(branches.join('\nUNION ALL\n'), params);

  const slots = new Map<string, Slot>();
  const prior = new Map<string, Prior>();
  const openConflicts: { key: string; id: string }[] = [];
  const parents = new Map<string, WireValue>();
  let answersPurgedThrough: string | null = null;
  const purgedTypes = new Set<string>();
  for (const r of read.rows) {
    if (r.kind === 'purged') answersPurgedThrough = r.row as string;
    else if (r.kind === 'horizon') purgedTypes.add(r.id);
    else if (r.kind === 'applied') {
      const a = r.row as { r: PushResult | null; h: string | null };
      prior.set(r.id, { terminalId: r.entity_type as string, result: a.r, hash: a.h });
    } else if (r.kind === 'parent') parents.set(keyOf(r.entity_type as string, r.id), (r.row as { store: WireValue }).store);
    else if (r.kind === 'open') openConflicts.push({ key: keyOf(r.entity_type as string, r.id), id: r.row as string });
    else if (r.kind !== 'origin') {
      const entry = entryForEntity(r.entity_type as string) as CatalogEntry;
      slots.set(keyOf(entry.entityType, r.id), freshSlot(centralRowFromJson(entry, r.row as Record<string, unknown>)));
    }
  }
  for (const w of work) {
    const key = keyOf(w.change.entityType, w.change.entityId);
    const slot = slots.get(key);
    if (!slot) slots.set(key, freshSlot(undefined));
    else if (slot.row?.changeId === w.changeId && !prior.has(w.changeId)) {
      // The row still holds this change's answer (see answersOnRows): applied, at the row's version.
      const row = slot.row;
      prior.set(w.changeId, {
        terminalId: row.origin ?? '',
        result: { changeId: w.changeId, entityType: w.change.entityType, entityId: w.change.entityId, status: 'applied', version: row.version },
        hash: row.changeHash ?? null,
      });
    }
  }
  for (const c of openConflicts) {
    const slot = slots.get(c.key);
    if (slot) slot.openConflictId = c.id;
  }
  return { types, byType, slots, prior, parents, answersPurgedThrough, purgedTypes };
}

/** What the write statement writes. */
export interface BatchWrites {
  readonly writesByType: ReadonlyMap<CatalogEntry, TableWrites>;
  readonly conflicts: readonly ConflictInsert[];
  /** The changes answered (not refused), whose answers are kept for replays. */
  readonly settled: readonly Work[];
  readonly results: readonly (PushResult | undefined)[];
  /** Indexes of the changes whose answer carries the version their row's upsert returns. */
  readonly wroteRow: ReadonlySet<number>;
  /** Indexes of the changes whose answer their row holds (see answersOnRows): not written to sync_applied. */
  readonly onRow: ReadonlySet<number>;
}

export interface WrittenRow {
  readonly kind: 'row' | 'answer';
  readonly entity_type: string | null;
  readonly id: string;
  readonly version: number | null;
}

/**
 * The write statement: per table (data-modifying CTEs, in catalog order) an insert of
 * the rows the read step did not find, which leaves alone a row created meanwhile
 * (`ON CONFLICT DO NOTHING`: it is not returned), and an upsert of the rows it found
 * and locked; then the conflict records, and the answers kept for replays, each
 * answer inserted once with the version its row's write returned. Returns the rows
 * written (entity type, id, new version) and the change ids whose answers were
 * inserted: an id missing was taken by a concurrent push, a row missing was created
 * by a concurrent write.
 */
export async function writeBatch(tx: Queryable, acting: Acting, b: BatchWrites): Promise<WrittenRow[]> {
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const ctes: string[] = [];
  const rowSources: string[] = [];
  let n = 0;
  for (const [entry, writes] of b.writesByType) {
    for (const [rows, mode] of [
      [writes.inserts, 'insert'],
      [writes.updates, 'upsert'],
    ] as const) {
      if (rows.length === 0) continue;
      const name = `w${n++}`;
      ctes.push(
        `${name} AS (${upsertStatement(entry, p(upsertRecords(rows)), mode)}
          RETURNING ${literal(entry.entityType)}::text AS entity_type, id, ${CENTRAL_SYNC_COLUMNS.version} AS version)`,
      );
      rowSources.push(`SELECT entity_type, id, version FROM ${name}`);
    }
  }
  if (rowSources.length === 0) rowSources.push('SELECT NULL::text AS entity_type, NULL::text AS id, NULL::bigint AS version WHERE false');
  ctes.push(`v AS (${rowSources.join(' UNION ALL ')})`);
  if (b.conflicts.length > 0) {
    const col = <K extends keyof ConflictInsert>(k: K) => b.conflicts.map((c) => c[k]);
    const jsonCol = (k: 'base' | 'terminal' | 'central') => b.conflicts.map((c) => json(c[k]));
    ctes.push(
      `c AS (INSERT INTO sync_conflicts (id, terminal_id, store_id, entity_type, entity_id, change_id, strategy, status,
           base, terminal, central, central_version, resolution, resolved_at)
         SELECT u.id, ${p(acting.terminalId)}, ${p(acting.storeId)}, u.et, u.ei, u.ci, u.st, u.s, u.b, u.t, u.c, u.cv, u.r,
           CASE WHEN u.s = 'resolved' THEN now() END
         FROM unnest(${p(col('id'))}::text[], ${p(col('entityType'))}::text[], ${p(col('entityId'))}::text[], ${p(col('changeId'))}::text[],
           ${p(col('strategy'))}::text[], ${p(col('status'))}::text[], ${p(jsonCol('base'))}::jsonb[], ${p(jsonCol('terminal'))}::jsonb[],
           ${p(jsonCol('central'))}::jsonb[], ${p(col('centralVersion'))}::bigint[], ${p(col('resolution'))}::text[])
           AS u(id, et, ei, ci, st, s, b, t, c, cv, r)
         ON CONFLICT (id) DO UPDATE SET change_id = EXCLUDED.change_id, terminal = EXCLUDED.terminal,
           base = coalesce(sync_conflicts.base, EXCLUDED.base), central = EXCLUDED.central, central_version = EXCLUDED.central_version)`,
    );
  }
  let answers = 'SELECT NULL::text WHERE false';
  const kept = b.settled.filter((w) => !b.onRow.has(w.index));
  if (kept.length > 0) {
    // One JSON document of every answer's columns (no array literal with each answer escaped in it).
    const rows = kept.map((w) => {
      const r = b.results[w.index] as PushResult;
      return { c: w.changeId, e: w.change.entityType, i: w.change.entityId, s: r.status, v: r.version, r, w: b.wroteRow.has(w.index), h: w.hash };
    });
    ctes.push(
      `a AS (INSERT INTO sync_applied (change_id, terminal_id, entity_type, entity_id, status, version, result, content_hash)
         SELECT u.c, ${p(acting.terminalId)}, u.e, u.i, u.s, CASE WHEN u.w THEN coalesce(v.version, u.v) ELSE u.v END,
           CASE WHEN u.w AND v.version IS NOT NULL THEN jsonb_set(u.r, '{version}', to_jsonb(v.version)) ELSE u.r END, u.h
         FROM jsonb_to_recordset(${p(JSON.stringify(rows))}::jsonb) AS u(c text, e text, i text, s text, v bigint, r jsonb, w boolean, h text)
         LEFT JOIN v ON u.w AND v.entity_type = u.e AND v.id = u.i
         ORDER BY u.c
         ON CONFLICT (change_id) DO NOTHING RETURNING change_id)`,
    );
    answers = 'SELECT change_id FROM a';
  }
  // What central accepted from the terminal, counted per table (the status endpoint's synced).
  const accepted = new Map<string, number>();
  for (const w of b.settled) {
    if ((b.results[w.index] as PushResult).resolution === 'PARKED') continue;
    accepted.set(w.change.entityType, (accepted.get(w.change.entityType) ?? 0) + 1);
  }
  if (accepted.size > 0) {
    const types = [...accepted.keys()].sort(); // one lock order for the counters
    ctes.push(
      `n AS (INSERT INTO sync_accepted_counts (terminal_id, entity_type, accepted)
         SELECT ${p(acting.terminalId)}, u.e, u.n FROM unnest(${p(types)}::text[], ${p(types.map((t) => accepted.get(t)))}::bigint[]) AS u(e, n)
         ON CONFLICT (terminal_id, entity_type) DO UPDATE SET accepted = sync_accepted_counts.accepted + EXCLUDED.accepted)`,
    );
  }
  // No check is needed that a change id whose answer goes on its row has none in
  // sync_applied already (moved there by a write this read's snapshot did not see): a
  // change is answered on its row only when it applied plainly, against the row at the
  // version it was made on (or to no row), and a change already applied has moved its
  // row past that version; a row gone with an answer on it held a delete, whose replay
  // writes nothing and is answered in sync_applied, where the change id is unique.
  const r = await tx.query<WrittenRow>(
    `WITH ${ctes.join(',\n')}
     SELECT 'row' AS kind, entity_type, id, version FROM v
     UNION ALL SELECT 'answer', NULL, x.change_id, NULL FROM (${answers}) x(change_id)`,
    params,
  );
  return r.rows;
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}
