/** Conflicts kept for the supervisor's inbox and the record, and central's resolutions applied. */
import { randomUUID } from 'node:crypto';
import type { CatalogEntry, WireRow } from '../../../shared/catalog/index.js';
import type { ConflictView } from '../../../shared/ipc.js';
import { nowIso, type StoreBase } from './base.js';
import type { Capture } from './capture.js';
import type { Outbox } from './outbox.js';
import type { Rows } from './rows.js';

interface ConflictRow {
  id: string;
  table_name: string;
  entity_type: string;
  server_id: string;
  strategy: string;
  status: 'open' | 'resolved';
  base: string | null;
  terminal: string | null;
  central: string | null;
  central_version: number | null;
  resolution: string | null;
  created_at: string;
  resolved_at: string | null;
}

/** A conflict to keep: `id` undefined for one only seen here (it gets a local id). */
export interface ConflictRecord {
  readonly id: string | undefined;
  readonly status: 'open' | 'resolved';
  readonly base: WireRow | null;
  readonly terminal: WireRow | null;
  readonly central: WireRow | null;
  readonly centralVersion: number | null;
  readonly resolution: string | null;
}

function toView(r: ConflictRow): ConflictView {
  const parse = (s: string | null) => (s ? (JSON.parse(s) as WireRow) : null);
  return {
    conflictId: r.id,
    table: r.table_name,
    entityType: r.entity_type,
    entityId: r.server_id,
    strategy: r.strategy,
    status: r.status,
    base: parse(r.base),
    terminal: parse(r.terminal),
    central: parse(r.central),
    centralVersion: r.central_version,
    resolution: r.resolution,
    createdAt: r.created_at,
    resolvedAt: r.resolved_at,
    // Parked at central (resolvable there) rather than only seen locally.
    atCentral: !r.id.startsWith('local-'),
  };
}

export class Conflicts {
  constructor(
    private readonly base: StoreBase,
    private readonly capture: Capture,
    private readonly outbox: Outbox,
    private readonly rows: Rows,
  ) {}

  openConflicts(): ConflictView[] {
    return (this.base.stmt(`SELECT * FROM tillsync_conflicts WHERE status = 'open' ORDER BY created_at`).all() as ConflictRow[]).map(toView);
  }

  allConflicts(limit = 200): ConflictView[] {
    return (this.base.stmt(`SELECT * FROM tillsync_conflicts ORDER BY created_at DESC LIMIT ?`).all(limit) as ConflictRow[]).map(toView);
  }

  /** Keeps a conflict for the supervisor's inbox and the record; a parked one is updated in place. */
  recordConflict(entry: CatalogEntry, serverId: string, c: ConflictRecord): void {
    const json = (v: WireRow | null) => (v ? JSON.stringify(v) : null);
    this.base
      .stmt(
        `INSERT INTO tillsync_conflicts (id, table_name, entity_type, server_id, strategy, status, base, terminal, central, central_version, resolution, resolved_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET terminal = excluded.terminal, central_version = coalesce(excluded.central_version, central_version)`,
      )
      .run(
        c.id ?? `local-${randomUUID()}`,
        entry.table,
        entry.entityType,
        serverId,
        entry.conflictStrategy,
        c.status,
        json(c.base),
        json(c.terminal),
        json(c.central),
        c.centralVersion,
        c.resolution,
        c.status === 'resolved' ? nowIso() : null,
      );
  }

  /** A row's conflicts only seen here give way to the one central parked. */
  dropLocal(table: string, serverId: string): void {
    this.base.stmt(`DELETE FROM tillsync_conflicts WHERE table_name = ? AND server_id = ? AND id LIKE 'local-%'`).run(table, serverId);
  }

  /** A parked row's open conflict keeps central's latest image beside it. */
  updateCentral(table: string, serverId: string, central: unknown, version: number): void {
    this.base
      .stmt(`UPDATE tillsync_conflicts SET central = ?, central_version = ? WHERE table_name = ? AND server_id = ? AND status = 'open'`)
      .run(JSON.stringify(central), version, table, serverId);
  }

  /**
   * A conflict central has resolved: the resolution is the row's truth. Every change
   * of this row the till still holds (parked, or made while it was parked) is
   * superseded by it, so no stale edit undoes the supervisor's decision.
   */
  applyResolution(entity: { table: string; serverId: string }, data: WireRow, version: number, deleted: boolean, resolution: string): void {
    const entry = this.base.tables.get(entity.table)?.entry;
    if (!entry) return;
    this.base.applying(() => {
      // Whatever settles the outbox sees every captured write first.
      this.capture.promoteInline();
      const state = this.rows.rowState(entity.table, entity.serverId);
      // Central may have moved on after the resolution and we may have pulled that already.
      const newer = state && state.version > version && state.base ? (JSON.parse(state.base) as WireRow) : null;
      if (newer) this.rows.writeLocal(entry, entity.serverId, newer);
      else if (deleted) {
        this.rows.deleteLocal(entry, entity.serverId);
        this.rows.forgetRow(entity.table, entity.serverId);
      } else {
        this.rows.writeLocal(entry, entity.serverId, data);
        this.rows.setRowState(entity.table, entity.serverId, version, data);
      }
      this.outbox.resolve(entity.table, entity.serverId, resolution);
      this.base
        .stmt(`UPDATE tillsync_conflicts SET status = 'resolved', resolution = ?, resolved_at = ? WHERE table_name = ? AND server_id = ? AND status = 'open'`)
        .run(resolution, nowIso(), entity.table, entity.serverId);
    });
  }
}
