/** `GET /api/sync/status`: counts per table in exactly the seed's shape. */
import { CATALOG } from '../../shared/catalog/index.js';
import type { StatusResponse, TableCounts } from '../../shared/protocol.js';
import type { Principal } from '../auth.js';
import type { Database } from '../db/database.js';
import { HttpError } from '../errors.js';
import type { ConflictService } from './conflicts.js';
import type { FleetService } from './fleet.js';

/**
 * The terminal `GET /api/sync/status` answers for: the one named; without a name, a
 * terminal's key answers for its own terminal. The admin token must name one (400
 * VALIDATION_ERROR on `querystring.terminalId`): the whole fleet is `GET /api/fleet`.
 */
export function statusTerminalId(p: Principal, named: string | undefined): string {
  if (named !== undefined) return named;
  if (p.kind === 'terminal') return p.terminalId;
  const message = 'required with the admin token (GET /api/sync/status?terminalId=<id>); every terminal at once is GET /api/fleet';
  throw new HttpError(400, 'VALIDATION_ERROR', `querystring.terminalId: ${message}`, [{ path: 'querystring.terminalId', message }]);
}

export class StatusService {
  constructor(
    private readonly db: Database,
    private readonly fleet: FleetService,
    private readonly conflicts: ConflictService,
  ) {}

  /**
   * pending and failed: what the terminal reported in its last heartbeat (only it
   * knows its outbox). synced: changes central accepted from it (safe at HQ), as
   * counted when each was settled (the purge does not lower it); a change parked
   * for a supervisor is not accepted, it is a conflict.
   * conflicts: open at central, or as many as the terminal reports if more.
   * One terminal at a time, as in the seed (`?terminalId=terminal-123`); the whole
   * fleet is `GET /api/fleet`.
   */
  async status(terminalId: string): Promise<StatusResponse> {
    const reported = await this.fleet.reportedOutbox(terminalId);
    // Counted by each push as it settles its changes (most answers live on their rows).
    const accepted = await this.db.query<{ entity_type: string; n: number }>(
      `SELECT entity_type, accepted::int AS n FROM sync_accepted_counts WHERE terminal_id = $1`,
      [terminalId],
    );
    const acceptedBy = new Map(accepted.rows.map((x) => [x.entity_type, x.n]));
    const open = await this.conflicts.openCounts(terminalId);

    const tables: Record<string, TableCounts> = {};
    const totals: TableCounts = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
    const summary = { totalTables: 0, tablesWithPending: 0, tablesWithFailed: 0, tablesWithSynced: 0, tablesWithConflicts: 0 };
    for (const e of CATALOG) {
      let pending = 0;
      let failed = 0;
      let reportedConflicts = 0;
      for (const outbox of reported) {
        const c = outbox?.[e.entityType];
        if (!c) continue;
        pending += c.pending;
        failed += c.failed;
        reportedConflicts += c.conflicts;
      }
      const counts: TableCounts = {
        pending,
        failed,
        synced: acceptedBy.get(e.entityType) ?? 0,
        conflicts: Math.max(open.get(e.entityType) ?? 0, reportedConflicts),
      };
      tables[e.entityType] = counts;
      totals.pending += counts.pending;
      totals.failed += counts.failed;
      totals.synced += counts.synced;
      totals.conflicts += counts.conflicts;
      summary.totalTables++;
      if (counts.pending > 0) summary.tablesWithPending++;
      if (counts.failed > 0) summary.tablesWithFailed++;
      if (counts.synced > 0) summary.tablesWithSynced++;
      if (counts.conflicts > 0) summary.tablesWithConflicts++;
    }
    return { terminalId, tables, totals, summary };
  }
}
