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
import { centralRowFromJson, lockedRowsAndParentsBranch, lockedRowsBranch, parentRowsBranch, upsertRecords, upsertStatement } from './rows.js';

/** One terminal's changes in a push transaction (several terminals' pushes may share one: push-group.ts). */
export interface MemberWork {
  readonly acting: Acting;
  readonly work: readonly Work[];
}

/** What the read statement found for a group of pushes. */
export interface BatchRead {
  /** The tables the group writes, in catalog order, and the ids it writes in each. */
  readonly types: readonly CatalogEntry[];
  readonly byType: ReadonlyMap<CatalogEntry, ReadonlySet<string>>;
  /** Every row the group touches, by keyOf (a row not at central has an empty slot). */
  readonly slots: Map<string, Slot>;
  /** The answers already given to the group's change ids. */
  readonly prior: ReadonlyMap<string, Prior>;
  /** The stores of the parents the group points at and does not write itself (null: global). */
  readonly parents: ReadonlyMap<string, WireValue>;
  /** Per terminal, the newest of its answers the purge removed (absent: none was). */
  readonly answersPurgedThrough: ReadonlyMap<string, string>;
  /** Entity types whose tombstones the purge has removed. */
  readonly purgedTypes: ReadonlySet<string>;
}

const byCatalogOrder = (a: CatalogEntry, b: CatalogEntry) => CATALOG.indexOf(a) - CATALOG.indexOf(b);

/**
 * The marker a push sets as `tillsync.origin`: each row's writer is then the
 * `sync_origin` its upsert gives (migration 0008), as one transaction may carry several
 * terminals' rows. Not a terminal id (those start with a letter or digit).
 */
export const ORIGIN_PER_ROW = '*row*';

/**
 * The read: the answers already given to these change ids, the rows the group touches
 * (locked, table by table in catalog order, by id), its terminals' open conflicts on
 * them, the parents it points at, and the writer's identity set for the capture
 * triggers (per row). The members write disjoint rows (push-group.ts).
 */
export async function readBatch(tx: Queryable, members: readonly MemberWork[]): Promise<BatchRead> {
  const byType = new Map<CatalogEntry, Set<string>>();
  const owner = new Map<string, string>();
  const changeIds: string[] = [];
  const entityIds: string[] = [];
  for (const m of members) {
    for (const w of m.work) {
      const ids = byType.get(w.entry) ?? new Set<string>();
      ids.add(w.change.entityId);
      byType.set(w.entry, ids);
      owner.set(keyOf(w.change.entityType, w.change.entityId), m.acting.terminalId);
      changeIds.push(w.changeId);
      entityIds.push(w.change.entityId);
    }
  }
  // Catalog order, then id order: every transaction takes its locks in one global order.
  const types = [...byType.keys()].sort(byCatalogOrder);
  const params: unknown[] = [ORIGIN_PER_ROW, changeIds, entityIds, members.map((m) => m.acting.terminalId)];
  const branches = [
    `SELECT 'origin' AS kind, NULL::text AS entity_type, set_config('tillsync.origin', $1, true) AS id, NULL::jsonb AS row`,
    `SELECT 'applied', terminal_id, change_id, jsonb_build_object('r', result, 'h', content_hash) FROM sync_applied WHERE change_id = ANY($2::text[])`,
    `SELECT 'purged', NULL, id, to_jsonb(answers_purged_through) FROM sync_terminals WHERE id = ANY($4::text[]) AND answers_purged_through IS NOT NULL`,
    `SELECT 'horizon', entity_type, entity_type, NULL FROM sync_purge_horizons`,
    `SELECT 'open', entity_type, entity_id, jsonb_build_object('c', id, 't', terminal_id) FROM sync_conflicts
         WHERE terminal_id = ANY($4::text[]) AND status = 'open' AND entity_id = ANY($3::text[])`,
  ];
  // The parents the group points at that it does not write itself.
  const parentIds = new Map<CatalogEntry, Set<string>>();
  for (const m of members) {
    for (const w of m.work) {
      for (const ref of w.parents) {
        if (byType.get(ref.parent)?.has(ref.id)) continue;
        const ids = parentIds.get(ref.parent) ?? new Set<string>();
        ids.add(ref.id);
        parentIds.set(ref.parent, ids);
      }
    }
  }
  // Every lock in one global order, table by table in catalog order and by id within a
  // table, whether the group writes the row (FOR UPDATE) or points at it (a parent of a
  // store-scoped table, FOR SHARE): a table holding both locks them in one scan, all FOR
  // UPDATE. Two groups, each writing a row the other points at, then cannot deadlock.
  const param = (ids: ReadonlySet<string>) => {
    params.push([...ids]);
    return `$${params.length}`;
  };
  for (const entry of [...new Set([...types, ...parentIds.keys()])].sort(byCatalogOrder)) {
    const rows = byType.get(entry);
    const pointed = parentIds.get(entry);
    if (rows && pointed && entry.centralStoreColumn !== undefined) branches.push(lockedRowsAndParentsBranch(entry, param(rows), param(pointed)));
    else {
      if (rows) branches.push(lockedRowsBranch(entry, param(rows)));
      if (pointed) branches.push(parentRowsBranch(entry, param(pointed)));
    }
  }
  const read = await tx.query<{ kind: string; entity_type: string | null; id: string; row: unknown }>(branches.join('\nUNION ALL\n'), params);

  const slots = new Map<string, Slot>();
  const prior = new Map<string, Prior>();
  const openConflicts: { key: string; id: string; terminalId: string }[] = [];
  const parents = new Map<string, WireValue>();
  const answersPurgedThrough = new Map<string, string>();
  const purgedTypes = new Set<string>();
  for (const r of read.rows) {
    if (r.kind === 'purged') answersPurgedThrough.set(r.id, r.row as string);
    else if (r.kind === 'horizon') purgedTypes.add(r.id);
    else if (r.kind === 'applied') {
      const a = r.row as { r: PushResult | null; h: string | null };
      prior.set(r.id, { terminalId: r.entity_type as string, result: a.r, hash: a.h });
    } else if (r.kind === 'parent') parents.set(keyOf(r.entity_type as string, r.id), (r.row as { store: WireValue }).store);
    else if (r.kind === 'open') {
      const c = r.row as { c: string; t: string };
      openConflicts.push({ key: keyOf(r.entity_type as string, r.id), id: c.c, terminalId: c.t });
    } else if (r.kind !== 'origin') {
      const entry = entryForEntity(r.entity_type as string) as CatalogEntry;
      slots.set(keyOf(entry.entityType, r.id), freshSlot(centralRowFromJson(entry, r.row as Record<string, unknown>)));
    }
  }
  for (const m of members) {
    for (const w of m.work) {
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
  }
  // A conflict is open on a row for the terminal that writes the row in this group.
  for (const c of openConflicts) {
    const slot = slots.get(c.key);
    if (slot && owner.get(c.key) === c.terminalId) slot.openConflictId = c.id;
  }
  return { types, byType, slots, prior, parents, answersPurgedThrough, purgedTypes };
}

/** A change answered (not refused), whose answer is kept for replays. */
export interface SettledAnswer {
  readonly work: Work;
  readonly terminalId: string;
  readonly result: PushResult;
  /** Its answer carries the version its row's upsert returns. */
  readonly wroteRow: boolean;
  /** Its row holds its answer (see answersOnRows): not written to sync_applied. */
  readonly onRow: boolean;
}

/** A conflict record to write, with the terminal (and its store) whose change made it. */
export interface OwnedConflict extends ConflictInsert {
  readonly terminalId: string;
  readonly storeId: string;
}

/** What the write statement writes. */
export interface BatchWrites {
  readonly writesByType: ReadonlyMap<CatalogEntry, TableWrites>;
  readonly conflicts: readonly OwnedConflict[];
  readonly answers: readonly SettledAnswer[];
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
export async function writeBatch(tx: Queryable, b: BatchWrites): Promise<WrittenRow[]> {
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
    const col = <K extends keyof OwnedConflict>(k: K) => b.conflicts.map((c) => c[k]);
    const jsonCol = (k: 'base' | 'terminal' | 'central') => b.conflicts.map((c) => json(c[k]));
    ctes.push(
      `c AS (INSERT INTO sync_conflicts (id, terminal_id, store_id, entity_type, entity_id, change_id, strategy, status,
           base, terminal, central, central_version, resolution, resolved_at)
         SELECT u.id, u.tid, u.sid, u.et, u.ei, u.ci, u.st, u.s, u.b, u.t, u.c, u.cv, u.r,
           CASE WHEN u.s = 'resolved' THEN now() END
         FROM unnest(${p(col('id'))}::text[], ${p(col('terminalId'))}::text[], ${p(col('storeId'))}::text[], ${p(col('entityType'))}::text[],
           ${p(col('entityId'))}::text[], ${p(col('changeId'))}::text[], ${p(col('strategy'))}::text[], ${p(col('status'))}::text[],
           ${p(jsonCol('base'))}::jsonb[], ${p(jsonCol('terminal'))}::jsonb[], ${p(jsonCol('central'))}::jsonb[],
           ${p(col('centralVersion'))}::bigint[], ${p(col('resolution'))}::text[])
           AS u(id, tid, sid, et, ei, ci, st, s, b, t, c, cv, r)
         ON CONFLICT (id) DO UPDATE SET change_id = EXCLUDED.change_id, terminal = EXCLUDED.terminal,
           base = coalesce(sync_conflicts.base, EXCLUDED.base), central = EXCLUDED.central, central_version = EXCLUDED.central_version)`,
    );
  }
  let answers = 'SELECT NULL::text WHERE false';
  const kept = b.answers.filter((a) => !a.onRow);
  if (kept.length > 0) {
    // One JSON document of every answer's columns (no array literal with each answer escaped in it).
    const rows = kept.map((a) => {
      const w = a.work;
      const r = a.result;
      return { c: w.changeId, t: a.terminalId, e: w.change.entityType, i: w.change.entityId, s: r.status, v: r.version, r, w: a.wroteRow, h: w.hash };
    });
    ctes.push(
      `a AS (INSERT INTO sync_applied (change_id, terminal_id, entity_type, entity_id, status, version, result, content_hash)
         SELECT u.c, u.t, u.e, u.i, u.s, CASE WHEN u.w THEN coalesce(v.version, u.v) ELSE u.v END,
           CASE WHEN u.w AND v.version IS NOT NULL THEN jsonb_set(u.r, '{version}', to_jsonb(v.version)) ELSE u.r END, u.h
         FROM jsonb_to_recordset(${p(JSON.stringify(rows))}::jsonb) AS u(c text, t text, e text, i text, s text, v bigint, r jsonb, w boolean, h text)
         LEFT JOIN v ON u.w AND v.entity_type = u.e AND v.id = u.i
         ORDER BY u.c
         ON CONFLICT (change_id) DO NOTHING RETURNING change_id)`,
    );
    answers = 'SELECT change_id FROM a';
  }
  // What central accepted from each terminal, counted per table (the status endpoint's synced).
  const accepted = new Map<string, { t: string; e: string; n: number }>();
  for (const a of b.answers) {
    if (a.result.resolution === 'PARKED') continue;
    const key = `${a.terminalId}\u0000${a.work.change.entityType}`;
    const c = accepted.get(key);
    if (c) c.n++;
    else accepted.set(key, { t: a.terminalId, e: a.work.change.entityType, n: 1 });
  }
  if (accepted.size > 0) {
    const counts = [...accepted.keys()].sort().map((k) => accepted.get(k) as { t: string; e: string; n: number }); // one lock order for the counters
    ctes.push(
      `n AS (INSERT INTO sync_accepted_counts (terminal_id, entity_type, accepted)
         SELECT u.t, u.e, u.n FROM unnest(${p(counts.map((c) => c.t))}::text[], ${p(counts.map((c) => c.e))}::text[], ${p(counts.map((c) => c.n))}::bigint[]) AS u(t, e, n)
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
    { reuse: true },
  );
  return r.rows;
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}
