/** Stores, terminal provisioning, heartbeats and the fleet list. */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type {
  CreateStoreRequest,
  CreateTerminalRequest,
  HeartbeatRequest,
  TerminalInfo,
  UpdateTerminalRequest,
} from '../../shared/protocol.js';
import type { AuditReport, LastAuditResponse } from '../../shared/audit-protocol.js';
import type { Principal } from '../auth.js';
import { hashSecret, newApiKey } from '../auth.js';
import type { Database } from '../db/database.js';
import { conflict, forbidden, notFound } from '../errors.js';
import { clockSkew, onCentralClock } from './fleet-view.js';

/** NOTIFY channel: a till's report changed (payload: its id); the console's live view listens. */
export const FLEET_CHANNEL = 'tillsync_fleet';

/**
 * A heartbeat's report is kept only if it is not older than the one kept ($6: when
 * the till read it): two requests crossing on the way must not put older counts back.
 * A report more than CLOCK_SET_BACK older than the one kept is no crossing request (a
 * heartbeat gives up after 30 s): the till's clock was set back (NTP correcting a fast
 * clock), and it is kept, or the till's counts would freeze until its clock caught up.
 */
export const CLOCK_SET_BACK = '2 minutes';
const FRESH = `($6::timestamptz IS NULL OR outbox_reported_at IS NULL OR $6::timestamptz >= outbox_reported_at
  OR $6::timestamptz < outbox_reported_at - interval '${CLOCK_SET_BACK}')`;

/** The outbox's pending and failed changes over every table (bounded counts: the sums fit). */
function outboxSums(outbox: NonNullable<HeartbeatRequest['outbox']>): { pending: number; failed: number } {
  let pending = 0;
  let failed = 0;
  for (const c of Object.values(outbox)) {
    pending += c.pending;
    failed += c.failed;
  }
  return { pending: Math.min(pending, 2_147_483_647), failed: Math.min(failed, 2_147_483_647) };
}

/** The terminal a request acts as. */
export interface Acting {
  readonly terminalId: string;
  readonly storeId: string;
}

interface TerminalRow {
  id: string;
  store_id: string;
  name: string;
  disabled_at: string | null;
  created_at: string;
  last_heartbeat_at: string | null;
  reported_status: string | null;
  app_version: string | null;
  outbox: Record<string, { pending: number; failed: number; synced: number; conflicts: number }> | null;
}

export class FleetService {
  constructor(
    private readonly db: Database,
    private readonly heartbeatIntervalSeconds: number,
    /** Whether a terminal has a live socket on this or another instance (best effort: this instance). */
    private readonly isConnected: (terminalId: string) => boolean = () => false,
    /** Called once a change to a terminal's access has committed (this instance's auth cache forgets it). */
    private readonly onAccessChanged: (terminalId: string) => void = () => undefined,
  ) {}

  /** A terminal acts only as itself; the admin may act as any provisioned terminal. */
  async acting(principal: Principal, terminalId: string): Promise<Acting> {
    if (principal.kind === 'terminal') {
      if (principal.terminalId !== terminalId) {
        throw forbidden('WRONG_TERMINAL', `this key belongs to terminal ${principal.terminalId}, not ${terminalId}`);
      }
      return principal;
    }
    const row = await this.find(terminalId);
    if (!row) throw notFound('UNKNOWN_TERMINAL', `no terminal ${terminalId}`);
    return { terminalId: row.id, storeId: row.store_id };
  }

  async find(terminalId: string): Promise<TerminalRow | undefined> {
    const r = await this.db.query<TerminalRow>('SELECT * FROM sync_terminals WHERE id = $1', [terminalId]);
    return r.rows[0];
  }

  async createStore(req: z.infer<typeof CreateStoreRequest>) {
    const id = req.id ?? randomUUID();
    const r = await this.db.query<{ id: string; name: string; code: string | null }>(
      `INSERT INTO stores (id, name, code, address, timezone, currency, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now(), now()) ON CONFLICT (id) DO NOTHING RETURNING id, name, code`,
      [id, req.name, req.code ?? null, req.address ?? null, req.timezone ?? null, req.currency ?? null],
    );
    const row = r.rows[0];
    if (!row) throw conflict('STORE_EXISTS', `store ${id} already exists`);
    return { storeId: row.id, name: row.name, code: row.code };
  }

  /** Provisions a terminal; the key is returned once and stored hashed. */
  async createTerminal(req: z.infer<typeof CreateTerminalRequest>) {
    const store = await this.db.query('SELECT 1 FROM stores WHERE id = $1 AND sync_deleted_at IS NULL', [req.storeId]);
    if (!store.rows[0]) throw notFound('UNKNOWN_STORE', `no store ${req.storeId}; create it with POST /api/stores`);
    const terminalId = req.terminalId ?? `terminal-${randomUUID().slice(0, 8)}`;
    const name = req.name ?? terminalId;
    const apiKey = newApiKey();
    return this.db.transaction(async (tx) => {
      const r = await tx.query(
        `INSERT INTO sync_terminals (id, store_id, name, key_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [terminalId, req.storeId, name, hashSecret(apiKey)],
      );
      if (!r.rows[0]) throw conflict('TERMINAL_EXISTS', `terminal ${terminalId} already exists`);
      // The POS's own terminals table, so the store's tills know each other.
      await tx.query(
        `INSERT INTO terminals (id, store_id, name, code, active, created_at, updated_at)
         VALUES ($1, $2, $3, $1, true, now(), now())
         ON CONFLICT (id) DO UPDATE SET store_id = EXCLUDED.store_id, name = EXCLUDED.name, active = true, sync_deleted_at = NULL`,
        [terminalId, req.storeId, name],
      );
      return { terminalId, storeId: req.storeId, name, apiKey };
    });
  }

  async updateTerminal(terminalId: string, req: z.infer<typeof UpdateTerminalRequest>): Promise<TerminalInfo> {
    // One transaction: sync_terminals' trigger announces an access change (NOTIFY) as it commits.
    const row = await this.db.transaction(async (tx) => {
      const r = await tx.query<TerminalRow>(
        `UPDATE sync_terminals SET
           disabled_at = CASE WHEN $2::boolean IS NULL THEN disabled_at WHEN $2 THEN coalesce(disabled_at, now()) ELSE NULL END,
           name = coalesce($3, name)
         WHERE id = $1 RETURNING *`,
        [terminalId, req.disabled ?? null, req.name ?? null],
      );
      const updated = r.rows[0];
      if (!updated) throw notFound('UNKNOWN_TERMINAL', `no terminal ${terminalId}`);
      await tx.query('UPDATE terminals SET active = $2, name = $3 WHERE id = $1', [terminalId, updated.disabled_at === null, updated.name]);
      return updated;
    });
    // This instance refuses a disabled key from its very next request, notification or not.
    if (req.disabled !== undefined) this.onAccessChanged(terminalId);
    return this.info(row);
  }

  async list(): Promise<TerminalInfo[]> {
    const r = await this.db.query<TerminalRow>('SELECT * FROM sync_terminals ORDER BY store_id, id');
    return r.rows.map((row) => this.info(row));
  }

  /** Active terminals: provisioned and not disabled. */
  async activeIds(): Promise<string[]> {
    const r = await this.db.query<{ id: string }>('SELECT id FROM sync_terminals WHERE disabled_at IS NULL ORDER BY id');
    return r.rows.map((x) => x.id);
  }

  /** A store's active terminals (404 UNKNOWN_STORE for a store that does not exist). */
  async activeIdsInStore(storeId: string): Promise<string[]> {
    const store = await this.db.query('SELECT 1 FROM stores WHERE id = $1 AND sync_deleted_at IS NULL', [storeId]);
    if (!store.rows[0]) throw notFound('UNKNOWN_STORE', `no store ${storeId}`);
    const r = await this.db.query<{ id: string }>('SELECT id FROM sync_terminals WHERE store_id = $1 AND disabled_at IS NULL ORDER BY id', [storeId]);
    return r.rows.map((x) => x.id);
  }

  async heartbeat(acting: Acting, req: HeartbeatRequest) {
    const receivedAt = Date.now();
    const reportedAt = req.reportedAt ? Date.parse(req.reportedAt) : null;
    const sums = req.outbox ? outboxSums(req.outbox) : null;
    const oldest =
      req.oldestPendingAt === undefined ? undefined : req.oldestPendingAt === null ? null : new Date(onCentralClock(Date.parse(req.oldestPendingAt), reportedAt, receivedAt)).toISOString();
    await this.db.query(
      // The newest report wins: counts read before the ones kept (a slower request) are not kept.
      // Every instance's console hears of the report (FLEET_CHANNEL), in the same statement.
      `WITH reported AS (UPDATE sync_terminals SET last_heartbeat_at = now(), reported_status = $2,
         app_version = coalesce($3, app_version),
         outbox = CASE WHEN ${FRESH} THEN coalesce($4::jsonb, outbox) ELSE outbox END,
         outbox_reported_at = CASE WHEN $4::jsonb IS NULL THEN outbox_reported_at
                                   WHEN $6::timestamptz IS NULL THEN NULL
                                   WHEN ${FRESH} THEN $6::timestamptz
                                   ELSE outbox_reported_at END,
         last_sync_at = coalesce($5::timestamptz, last_sync_at),
         schema_version = coalesce($7, schema_version),
         pending_total = CASE WHEN ${FRESH} THEN coalesce($8, pending_total) ELSE pending_total END,
         failed_total = CASE WHEN ${FRESH} THEN coalesce($9, failed_total) ELSE failed_total END,
         oldest_pending_at = CASE WHEN ${FRESH} AND $10::boolean THEN $11::timestamptz ELSE oldest_pending_at END,
         unsynced_sales_count = CASE WHEN ${FRESH} THEN coalesce($12, unsynced_sales_count) ELSE unsynced_sales_count END,
         unsynced_sales_total = CASE WHEN ${FRESH} THEN coalesce($13::numeric, unsynced_sales_total) ELSE unsynced_sales_total END,
         clock_skew_ms = coalesce($14, clock_skew_ms),
         pull_cursors = CASE WHEN ${FRESH} THEN coalesce($15::jsonb, pull_cursors) ELSE pull_cursors END,
         recent_runs = CASE WHEN ${FRESH} THEN coalesce($16::jsonb, recent_runs) ELSE recent_runs END
       WHERE id = $1 RETURNING id)
       SELECT pg_notify('${FLEET_CHANNEL}', id) FROM reported`,
      [
        acting.terminalId,
        req.status,
        req.appVersion ?? null,
        req.outbox ? JSON.stringify(req.outbox) : null,
        req.lastSyncAt ?? null,
        req.reportedAt ?? null,
        req.schemaVersion ?? null,
        sums?.pending ?? null,
        sums?.failed ?? null,
        oldest !== undefined,
        oldest ?? null,
        req.unsyncedSales?.count ?? null,
        req.unsyncedSales ? String(req.unsyncedSales.total) : null,
        clockSkew(reportedAt, receivedAt),
        req.cursors ? JSON.stringify(req.cursors) : null,
        req.recentRuns ? JSON.stringify(req.recentRuns) : null,
      ],
    );
    return {
      terminalId: acting.terminalId,
      status: req.status,
      serverTime: new Date(receivedAt).toISOString(),
      heartbeatIntervalSeconds: this.heartbeatIntervalSeconds,
    };
  }

  /** Keeps a till's latest audit report (already trimmed); the console hears of it. Returns when central received it. */
  async recordAudit(acting: Acting, report: AuditReport): Promise<string> {
    const r = await this.db.query<{ at: string }>(
      `WITH kept AS (UPDATE sync_terminals SET last_audit = $2::jsonb, last_audit_at = now() WHERE id = $1 RETURNING id, last_audit_at)
       SELECT pg_notify('${FLEET_CHANNEL}', id), last_audit_at AS at FROM kept`,
      [acting.terminalId, JSON.stringify(report)],
    );
    const at = r.rows[0]?.at;
    if (!at) throw notFound('UNKNOWN_TERMINAL', `no terminal ${acting.terminalId}`);
    return new Date(at).toISOString();
  }

  async lastAudit(terminalId: string): Promise<LastAuditResponse> {
    const r = await this.db.query<{ last_audit: AuditReport | null; last_audit_at: string | null }>(
      'SELECT last_audit, last_audit_at FROM sync_terminals WHERE id = $1',
      [terminalId],
    );
    const row = r.rows[0];
    if (!row) throw notFound('UNKNOWN_TERMINAL', `no terminal ${terminalId}`);
    return { terminalId, receivedAt: row.last_audit_at === null ? null : new Date(row.last_audit_at).toISOString(), report: row.last_audit };
  }

  /** Reported outbox counts per entity type, for one terminal or summed over the fleet. */
  async reportedOutbox(terminalId: string | undefined): Promise<TerminalRow['outbox'][]> {
    const r = terminalId
      ? await this.db.query<{ outbox: TerminalRow['outbox'] }>('SELECT outbox FROM sync_terminals WHERE id = $1', [terminalId])
      : await this.db.query<{ outbox: TerminalRow['outbox'] }>('SELECT outbox FROM sync_terminals WHERE disabled_at IS NULL');
    return r.rows.map((x) => x.outbox);
  }

  private info(row: TerminalRow): TerminalInfo {
    const last = row.last_heartbeat_at ? Date.parse(row.last_heartbeat_at) : null;
    const silent = last === null || Date.now() - last > 3 * this.heartbeatIntervalSeconds * 1000;
    let status: TerminalInfo['status'];
    if (row.disabled_at) status = 'DISABLED';
    else if (last === null) status = 'NEVER_SEEN';
    else if (silent) status = 'OFFLINE';
    else status = (row.reported_status as TerminalInfo['status'] | null) ?? 'ONLINE';
    return {
      terminalId: row.id,
      storeId: row.store_id,
      name: row.name,
      status,
      disabled: row.disabled_at !== null,
      connected: this.isConnected(row.id),
      lastHeartbeatAt: row.last_heartbeat_at,
      appVersion: row.app_version,
      createdAt: row.created_at,
    };
  }
}
