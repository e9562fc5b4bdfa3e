/**
 * The convergence audit (`tillsync audit`, the companion's Audit button): for every
 * table the till holds and central serves it (direction down or both), the till's
 * synced rows are compared with central's rows in this terminal's scope by digests of
 * id ranges, bisected (audit-plan.ts) down to the rows that differ. In step, a table
 * costs one request. Rows with changes not at central yet are not compared: a
 * difference in one of them is reported as pending, not as a difference.
 */
import type { AuditReport, AuditTableReport } from '../../shared/audit-protocol.js';
import { AUDIT_MAX_RANGES } from '../../shared/audit-protocol.js';
import { CATALOG, pullable, type CatalogEntry } from '../../shared/catalog/index.js';
import { bisect, type AskCentral, type BisectResult } from './audit-plan.js';
import { readTillTable, tillView } from './audit-rows.js';
import { CentralError, NetworkError, type CentralClient } from './central-client.js';
import type { LocalStore } from './store/index.js';

export interface AuditOptions {
  readonly store: LocalStore;
  readonly client: Pick<CentralClient, 'audit' | 'baseUrl'>;
  readonly terminalId: string;
  /** One table (its local name or entity type); default every table. */
  readonly table?: string | undefined;
  /** Parts a differing range is split into (default 16). */
  readonly fanOut?: number;
  /** Central lists a range's rows at this many or fewer (default 64). */
  readonly listUpTo?: number;
  /** Differing rows listed per table (default 1,000; all are counted). */
  readonly maxListed?: number;
  /** Requests one table may take before the audit gives up on it (default 10,000). */
  readonly maxRequests?: number;
}

/** An unknown `--table`: names every table the audit knows. */
export class UnknownAuditTableError extends Error {
  override name = 'UnknownAuditTableError';
}

const UP_ONLY = 'sent up only (direction up): central does not serve these rows to a till, so there is no till scope to compare';

function notCompared(entry: CatalogEntry, reason: string): AuditTableReport {
  return {
    table: entry.table,
    entityType: entry.entityType,
    outcome: 'not_compared',
    reason,
    tillRows: 0,
    centralRows: 0,
    pending: 0,
    pendingIds: [],
    unsent: 0,
    differences: [],
    differencesTotal: 0,
    requests: 0,
  };
}

/** Audits one table; central unreachable or refusing the key is thrown, any other failure is the table's outcome. */
async function auditTable(opts: AuditOptions, entry: CatalogEntry): Promise<AuditTableReport> {
  const till = readTillTable(opts.store.base.db, entry);
  const view = tillView(till.rows);
  const maxListed = opts.maxListed ?? 1000;
  const base = { ...notCompared(entry, ''), reason: null, tillRows: till.rows.length, pending: till.pending.size, unsent: till.unsent };
  const ask: AskCentral = async (ranges) => {
    const res = await opts.client.audit({
      terminalId: opts.terminalId,
      entityType: entry.entityType,
      ranges,
      ...(opts.fanOut === undefined ? {} : { fanOut: opts.fanOut }),
      ...(opts.listUpTo === undefined ? {} : { listUpTo: opts.listUpTo }),
      schemaHash: entry.schemaHash,
    });
    return res.ranges;
  };
  let result: BisectResult;
  try {
    result = await bisect(ask, view, { maxRanges: AUDIT_MAX_RANGES, maxRequests: opts.maxRequests ?? 10_000 });
  } catch (err) {
    // Central unreachable, or refusing this terminal's key: no table can be audited.
    if (err instanceof NetworkError || (err instanceof CentralError && err.refusesKey)) throw err;
    return { ...base, outcome: 'failed', reason: err instanceof Error ? err.message : String(err) };
  }
  const { differences: found, centralRows, requests } = result;
  const differences = found.filter((d) => !till.pending.has(d.id));
  const pendingIds = found.filter((d) => till.pending.has(d.id)).map((d) => d.id);
  return {
    ...base,
    outcome: differences.length === 0 ? 'in_step' : 'differs',
    centralRows,
    pendingIds: pendingIds.slice(0, maxListed),
    differences: differences.slice(0, maxListed),
    differencesTotal: differences.length,
    requests,
  };
}

/** The tables an audit of `table` (or of all) looks at, in catalog order. */
export function auditTables(table: string | undefined): CatalogEntry[] {
  if (table === undefined) return [...CATALOG];
  const e = CATALOG.find((c) => c.table === table || c.entityType === table);
  if (!e) throw new UnknownAuditTableError(`unknown table ${table}; tables: ${CATALOG.map((c) => c.table).join(', ')}`);
  return [e];
}

/** Runs the audit; throws a NetworkError when central cannot be reached, a CentralError when it refuses the key. */
export async function runAudit(opts: AuditOptions): Promise<AuditReport> {
  const started = Date.now();
  const tables: AuditTableReport[] = [];
  for (const entry of auditTables(opts.table)) {
    if (!pullable(entry)) tables.push(notCompared(entry, UP_ONLY));
    else if (!opts.store.base.tables.has(entry.table)) tables.push(notCompared(entry, 'not in this POS database'));
    else tables.push(await auditTable(opts, entry));
  }
  return {
    terminalId: opts.terminalId,
    centralUrl: opts.client.baseUrl,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    inStep: tables.every((t) => t.outcome === 'in_step' || t.outcome === 'not_compared'),
    tables,
  };
}
