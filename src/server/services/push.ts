/**
 * Push: a terminal's batch of changes, applied in one transaction. Every change
 * gets an answer (applied, duplicate, conflict, rejected) with the row's new
 * version. Change ids make apply idempotent: a replayed batch gets the same
 * answers and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import {
  CATALOG,
  CENTRAL_KEY,
  entryForEntity,
  fingerprint,
  pushable,
  type CatalogEntry,
  type WireRow,
} from '../../shared/catalog/index.js';
import { conflictInput, decideConflict } from '../../shared/conflict.js';
import { parseHlc } from '../../shared/hlc.js';
import type { ChangeStatus, PushChange, PushRequest, PushResponse, PushResult } from '../../shared/protocol.js';
import type { Database, Queryable } from '../db/database.js';
import type { Metrics } from '../metrics.js';
import type { Acting } from './fleet.js';
import { lockRows, upsertRows, type CentralRow, type RowWrite } from './rows.js';

export interface PushOptions {
  readonly maxClockDriftMs: number;
}

type Rejection = { code: string; message: string };

/** The id a change is known by: its own, or one derived from its content. */
export function changeIdOf(terminalId: string, c: PushChange): string {
  if (c.changeId) return c.changeId;
  const content = JSON.stringify([terminalId, c.entityType, c.entityId, c.operation, c.syncVersion, c.data ?? null, c.hlc ?? null]);
  return `h:${fingerprint(content)}${fingerprint(content.split('').reverse().join(''))}`;
}

const keyOf = (entityType: string, entityId: string) => `${entityType}\u0000${entityId}`;

interface Work {
  readonly index: number;
  readonly changeId: string;
  readonly change: PushChange;
  readonly entry: CatalogEntry;
}

/** Row state while a batch is processed: what central has, as this batch leaves it. */
interface Slot {
  row: CentralRow | undefined;
  /** Version the row had before this batch wrote it (a terminal's later change in the same batch saw that). */
  versionBeforeBatch: number | undefined;
  write: RowWrite | undefined;
  openConflictId: string | undefined;
}

export class PushService {
  constructor(
    private readonly db: Database,
    private readonly opts: PushOptions,
    private readonly metrics: Metrics,
  ) {}

  async push(acting: Acting, req: PushRequest): Promise<PushResponse> {
    const results: (PushResult | undefined)[] = new Array(req.changes.length);
    const work: Work[] = [];
    const firstIndexOf = new Map<string, number>();
    const repeats: { index: number; first: number }[] = [];
    const rejectedUpfront: { index: number; result: PushResult }[] = [];

    req.changes.forEach((change, index) => {
      const changeId = changeIdOf(acting.terminalId, change);
      const entry = entryForEntity(change.entityType) as CatalogEntry; // validated by the schema
      const rejection = this.staticCheck(entry, change, req.schemaHashes);
      if (rejection) {
        results[index] = rejected(changeId, change, rejection);
        rejectedUpfront.push({ index, result: results[index] });
        return;
      }
      const first = firstIndexOf.get(changeId);
      if (first !== undefined) {
        repeats.push({ index, first });
        return;
      }
      firstIndexOf.set(changeId, index);
      work.push({ index, changeId, change, entry });
    });

    if (work.length > 0) {
      await retryOnContention(() =>
        this.db.transaction(async (tx) => {
          results.fill(undefined, 0, results.length);
          for (const r of rejectedUpfront) results[r.index] = r.result;
          await tx.query(`SELECT set_config('tillsync.origin', $1, true)`, [acting.terminalId]);
          await this.applyBatch(tx, acting, work, results);
        }),
      );
    }

    for (const { index, first } of repeats) {
      const r = results[first] as PushResult;
      const change = req.changes[index] as PushChange;
      results[index] =
        r.status === 'rejected'
          ? { ...r }
          : { ...r, status: 'duplicate', originalStatus: r.status === 'duplicate' ? r.originalStatus : r.status, entityId: change.entityId };
    }

    const final = results as PushResult[];
    const summary = { applied: 0, duplicate: 0, conflict: 0, rejected: 0 };
    this.metrics.pushes.inc();
    for (const r of final) {
      summary[r.status]++;
      this.metrics.pushedChanges.inc({ entity_type: r.entityType, status: r.status });
      if (r.status === 'conflict') this.metrics.conflicts.inc({ entity_type: r.entityType, resolution: r.resolution ?? '' });
    }
    return { terminalId: acting.terminalId, results: final, summary, serverTime: new Date().toISOString() };
  }

  /** Refusals that need no database: direction, append-only, schema drift, clock drift. */
  private staticCheck(entry: CatalogEntry, c: PushChange, hashes: PushRequest['schemaHashes']): Rejection | undefined {
    if (!pushable(entry)) {
      return { code: 'READ_ONLY_TABLE', message: `${entry.entityType} is synced from central to terminals only (direction down)` };
    }
    if (entry.appendOnly && c.operation === 'DELETE') {
      return { code: 'APPEND_ONLY', message: `${entry.entityType} is append-only: rows are never deleted (void or refund instead)` };
    }
    const hash = hashes?.[entry.entityType];
    if (hash !== undefined && hash !== entry.schemaHash) {
      return {
        code: 'SCHEMA_MISMATCH',
        message: `${entry.entityType}: terminal schema ${hash} differs from central ${entry.schemaHash}; sync of this table must pause until both run the same catalog`,
      };
    }
    if (c.hlc) {
      const h = parseHlc(c.hlc);
      const now = Date.now();
      if (h && h.physical - now > this.opts.maxClockDriftMs) {
        return {
          code: 'CLOCK_DRIFT',
          message: `clock ${new Date(h.physical).toISOString()} is ${h.physical - now} ms ahead of central (limit ${this.opts.maxClockDriftMs} ms); fix the terminal's clock`,
        };
      }
    }
    return undefined;
  }

  private async applyBatch(tx: Queryable, acting: Acting, work: Work[], results: (PushResult | undefined)[]): Promise<void> {
    // 1. Claim change ids. A change id already claimed is a duplicate; a concurrent
    //    push of the same id waits here on the row lock and then sees it.
    const claimed = await tx.query<{ change_id: string }>(
      `INSERT INTO sync_applied (change_id, terminal_id, entity_type, entity_id, status)
       SELECT u.c, $2, u.e, u.i, 'pending' FROM unnest($1::text[], $3::text[], $4::text[]) AS u(c, e, i)
       ORDER BY u.c ON CONFLICT (change_id) DO NOTHING RETURNING change_id`,
      [work.map((w) => w.changeId), acting.terminalId, work.map((w) => w.change.entityType), work.map((w) => w.change.entityId)],
    );
    const fresh = new Set(claimed.rows.map((r) => r.change_id));
    const seen = work.filter((w) => !fresh.has(w.changeId));
    if (seen.length > 0) await this.answerDuplicates(tx, acting, seen, results);
    const todo = work.filter((w) => fresh.has(w.changeId));
    if (todo.length === 0) return;

    // 2. Lock the rows the batch touches, and note which are parked in a conflict.
    const slots = new Map<string, Slot>();
    const byType = new Map<CatalogEntry, string[]>();
    for (const w of todo) {
      const ids = byType.get(w.entry) ?? [];
      ids.push(w.change.entityId);
      byType.set(w.entry, ids);
    }
    // Catalog order, then id order: every batch takes its locks in one global order.
    const types = [...byType.keys()].sort((a, b) => CATALOG.indexOf(a) - CATALOG.indexOf(b));
    for (const entry of types) {
      const ids = byType.get(entry) as string[];
      const rows = await lockRows(tx, entry, ids);
      for (const id of ids) {
        slots.set(keyOf(entry.entityType, id), { row: rows.get(id), versionBeforeBatch: undefined, write: undefined, openConflictId: undefined });
      }
    }
    const open = await tx.query<{ id: string; entity_type: string; entity_id: string }>(
      `SELECT id, entity_type, entity_id FROM sync_conflicts WHERE terminal_id = $1 AND status = 'open' AND entity_id = ANY($2::text[])`,
      [acting.terminalId, todo.map((w) => w.change.entityId)],
    );
    for (const c of open.rows) {
      const slot = slots.get(keyOf(c.entity_type, c.entity_id));
      if (slot) slot.openConflictId = c.id;
    }

    // 3. Decide every change in batch order (pure), remembering the writes.
    const pendingVersion: { index: number; key: string }[] = [];
    const conflictRows: ConflictInsert[] = [];
    const rejectedIds: string[] = [];
    const now = new Date().toISOString();
    for (const w of todo) {
      const key = keyOf(w.change.entityType, w.change.entityId);
      const slot = slots.get(key) as Slot;
      const decided = this.decide(w, slot, acting, now);
      results[w.index] = decided.result;
      if (decided.result.status === 'rejected') rejectedIds.push(w.changeId);
      if (decided.write) {
        if (slot.versionBeforeBatch === undefined) slot.versionBeforeBatch = slot.row?.version ?? 0;
        slot.write = decided.write;
        slot.row = {
          wire: decided.write.wire,
          version: (slot.row?.version ?? 0) + 1,
          hlc: decided.write.hlc,
          origin: acting.terminalId,
          deletedAt: decided.write.deletedAt,
          updatedAt: now,
        };
        pendingVersion.push({ index: w.index, key });
      }
      if (decided.conflict) {
        conflictRows.push(decided.conflict);
        if (decided.conflict.status === 'open') slot.openConflictId = decided.conflict.id;
      }
    }

    // 4. Write: one upsert per entity type; the trigger bumps versions and logs changes.
    const versions = new Map<string, number>();
    const writesByType = new Map<CatalogEntry, RowWrite[]>();
    for (const w of todo) {
      const slot = slots.get(keyOf(w.change.entityType, w.change.entityId)) as Slot;
      if (!slot.write) continue;
      const list = writesByType.get(w.entry) ?? [];
      if (!list.includes(slot.write)) list.push(slot.write);
      writesByType.set(w.entry, list);
    }
    for (const [entry, writes] of writesByType) {
      const v = await upsertRows(tx, entry, writes);
      for (const [id, version] of v) versions.set(keyOf(entry.entityType, id), version);
    }
    for (const { index, key } of pendingVersion) {
      const r = results[index] as PushResult;
      results[index] = { ...r, version: versions.get(key) ?? r.version };
    }

    // 5. Conflicts, then the answers kept for replays.
    for (const c of conflictRows) await this.saveConflict(tx, acting, c);
    if (rejectedIds.length > 0) {
      // A refusal writes nothing: a replay is judged afresh.
      await tx.query('DELETE FROM sync_applied WHERE change_id = ANY($1::text[])', [rejectedIds]);
    }
    const settled = todo.map((w) => results[w.index] as PushResult).filter((r) => r.status !== 'rejected');
    if (settled.length > 0) {
      await tx.query(
        `UPDATE sync_applied a SET status = u.s, version = u.v, result = u.r
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::jsonb[]) AS u(c, s, v, r) WHERE a.change_id = u.c`,
        [
          settled.map((r) => r.changeId),
          settled.map((r) => r.status),
          settled.map((r) => r.version),
          settled.map((r) => JSON.stringify(r)),
        ],
      );
    }
  }

  private async answerDuplicates(tx: Queryable, acting: Acting, seen: Work[], results: (PushResult | undefined)[]) {
    const r = await tx.query<{ change_id: string; terminal_id: string; result: PushResult | null; status: ChangeStatus }>(
      'SELECT change_id, terminal_id, status, result FROM sync_applied WHERE change_id = ANY($1::text[])',
      [seen.map((w) => w.changeId)],
    );
    const prior = new Map(r.rows.map((x) => [x.change_id, x]));
    for (const w of seen) {
      const p = prior.get(w.changeId);
      if (!p || p.terminal_id !== acting.terminalId || !p.result) {
        results[w.index] = rejected(w.changeId, w.change, {
          code: 'CHANGE_ID_TAKEN',
          message: `change id ${w.changeId} was already used by another change; change ids must be globally unique`,
        });
        continue;
      }
      const first = p.result;
      results[w.index] = {
        ...first,
        status: 'duplicate',
        originalStatus: first.status === 'duplicate' ? first.originalStatus : first.status,
      };
    }
  }

  /** One change against the row as the batch has left it. Pure apart from ids and the clock. */
  private decide(w: Work, slot: Slot, acting: Acting, now: string): Decision {
    const { change, entry, changeId } = w;
    const current = slot.row;
    const base: PushResult = {
      changeId,
      entityType: change.entityType,
      entityId: change.entityId,
      status: 'applied',
      version: current?.version ?? null,
    };

    // A store-scoped row is the terminal's only if it is of the terminal's store.
    const storeCol = entry.centralStoreColumn;
    const data: WireRow = { ...(change.data ?? {}), [CENTRAL_KEY]: change.entityId };
    // A new row without a store is the terminal's store's (a POS often leaves the column empty).
    // An update that leaves it empty keeps the row's store (the terminal never learnt it).
    if (storeCol && storeCol !== CENTRAL_KEY && (data[storeCol] === undefined || data[storeCol] === null)) {
      if (!current || current.deletedAt) data[storeCol] = acting.storeId;
      else data[storeCol] = current.wire[storeCol] ?? acting.storeId;
    }
    if (storeCol) {
      const stores = [current?.wire[storeCol], data[storeCol]].filter((s) => s !== undefined);
      const foreign = stores.find((s) => s !== acting.storeId);
      if (foreign !== undefined) {
        return {
          result: rejected(changeId, change, {
            code: 'FORBIDDEN_STORE',
            message: `${entry.entityType} ${change.entityId} belongs to store ${String(foreign)}; terminal ${acting.terminalId} writes only store ${acting.storeId}`,
          }),
        };
      }
    }

    if (slot.openConflictId) {
      // The row waits for a supervisor: park this change on the same conflict.
      return {
        result: { ...base, status: 'conflict', resolution: 'PARKED', conflictId: slot.openConflictId },
        conflict: conflictRecord(slot.openConflictId, w, current, 'open', null),
      };
    }

    if (change.operation === 'DELETE' && (!current || current.deletedAt)) {
      return { result: { ...base } }; // nothing (left) to delete
    }

    const image: WireRow = change.operation === 'DELETE' ? { ...(current?.wire ?? {}) } : { ...(current && !current.deletedAt ? current.wire : {}), ...data };
    if (!current || current.deletedAt) {
      const missing = entry.wireColumns.filter((c) => c.def.required && (image[c.name] === undefined || image[c.name] === null));
      if (missing.length > 0 && change.operation !== 'DELETE') {
        return {
          result: rejected(changeId, change, {
            code: 'MISSING_FIELDS',
            message: `${entry.entityType} ${change.entityId} is new to central and needs ${missing.map((c) => c.name).join(', ')}`,
          }),
        };
      }
    }
    const hlc = change.hlc ?? current?.hlc ?? null;
    const write = (row: WireRow, deleted: boolean): RowWrite => ({ wire: fill(entry, row), hlc, deletedAt: deleted ? now : null });
    const deleting = change.operation === 'DELETE';

    const expected = slot.versionBeforeBatch ?? current?.version ?? 0;
    if (!current || change.syncVersion === expected) {
      return { result: base, write: write(image, deleting) };
    }

    // A conflict: central moved on since the terminal last saw the row.
    const outcome = decideConflict(
      conflictInput(entry, {
        base: change.baseData ? (change.baseData as WireRow) : null,
        terminal: deleting ? {} : data,
        central: current.wire,
        terminalHlc: change.hlc ?? null,
        centralHlc: current.hlc,
      }),
    );
    const id = randomUUID();
    const conflict = (status: 'open' | 'resolved', resolution: string | null) => conflictRecord(id, w, current, status, resolution);
    switch (outcome.kind) {
      case 'PARKED':
        return { result: { ...base, status: 'conflict', resolution: 'PARKED', conflictId: id }, conflict: conflict('open', null) };
      case 'CENTRAL_WINS':
        return {
          result: { ...base, status: 'conflict', resolution: 'CENTRAL_WINS', conflictId: id, data: withDeleted(current) },
          conflict: conflict('resolved', 'CENTRAL_WINS'),
        };
      case 'TERMINAL_WINS':
        return {
          result: { ...base, status: 'conflict', resolution: 'TERMINAL_WINS', conflictId: id },
          write: write(deleting ? current.wire : outcome.row, deleting),
          conflict: conflict('resolved', 'TERMINAL_WINS'),
        };
      case 'MERGED': {
        const merged = fill(entry, outcome.row);
        return {
          result: { ...base, status: 'conflict', resolution: 'MERGED', conflictId: id, data: merged },
          write: write(merged, false),
          conflict: conflict('resolved', 'MERGED'),
        };
      }
    }
  }

  private async saveConflict(tx: Queryable, acting: Acting, c: ConflictInsert): Promise<void> {
    await tx.query(
      `INSERT INTO sync_conflicts (id, terminal_id, store_id, entity_type, entity_id, change_id, strategy, status,
         base, terminal, central, central_version, resolution, resolved_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, CASE WHEN $8 = 'resolved' THEN now() END)
       ON CONFLICT (id) DO UPDATE SET change_id = EXCLUDED.change_id, terminal = EXCLUDED.terminal,
         base = coalesce(sync_conflicts.base, EXCLUDED.base), central = EXCLUDED.central, central_version = EXCLUDED.central_version`,
      [
        c.id,
        acting.terminalId,
        acting.storeId,
        c.entityType,
        c.entityId,
        c.changeId,
        c.strategy,
        c.status,
        json(c.base),
        json(c.terminal),
        json(c.central),
        c.centralVersion,
        c.resolution,
      ],
    );
  }
}

/** PostgreSQL's deadlock and serialization failures: the whole transaction may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

async function retryOnContention<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (i >= attempts || typeof code !== 'string' || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 20));
    }
  }
}

interface ConflictInsert {
  id: string;
  entityType: string;
  entityId: string;
  changeId: string;
  strategy: string;
  status: 'open' | 'resolved';
  base: unknown;
  terminal: unknown;
  central: unknown;
  centralVersion: number | null;
  resolution: string | null;
}

interface Decision {
  result: PushResult;
  write?: RowWrite;
  conflict?: ConflictInsert;
}

function conflictRecord(id: string, w: Work, current: CentralRow | undefined, status: 'open' | 'resolved', resolution: string | null): ConflictInsert {
  return {
    id,
    entityType: w.change.entityType,
    entityId: w.change.entityId,
    changeId: w.changeId,
    strategy: w.entry.conflictStrategy,
    status,
    base: w.change.baseData ?? null,
    terminal: w.change.operation === 'DELETE' ? null : { ...(w.change.data ?? {}), id: w.change.entityId },
    central: current ? withDeleted(current) : null,
    centralVersion: current?.version ?? null,
    resolution,
  };
}

/** A row's image with its tombstone made visible to the terminal. */
function withDeleted(row: CentralRow): WireRow {
  return row.deletedAt ? { ...row.wire, _deleted: true } : row.wire;
}

/** Every wire column present (null where unknown), so an upsert writes a whole row. */
function fill(entry: CatalogEntry, row: WireRow): WireRow {
  const out: WireRow = { [CENTRAL_KEY]: row[CENTRAL_KEY] ?? null };
  for (const c of entry.wireColumns) out[c.name] = row[c.name] ?? null;
  return out;
}

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function rejected(changeId: string, change: PushChange, why: Rejection): PushResult {
  return {
    changeId,
    entityType: change.entityType,
    entityId: change.entityId,
    status: 'rejected',
    version: null,
    error: why,
  };
}
