/**
 * The convergence audit at central (`POST /api/sync/audit`): for one table and one
 * terminal's scope (the rows its pulls serve it: live rows of its store and global
 * rows), the row count and digest of each id range asked, split into parts or listed
 * row by row (src/shared/audit.ts answerRange). Rows are hashed in the canonical form
 * the till uses, so equal rows give equal digests on both sides.
 *
 * Bounded work: at most AUDIT_MAX_RANGES ranges a request (the schema) and at most
 * `rowBudget` rows read a request, in pages. A range cut short by the budget is
 * answered for the ids read (`complete: false`); ranges after it are not answered and
 * the terminal asks for them again.
 */
import { answerRange, contentHash, type AuditRow, type IdRange } from '../../shared/audit.js';
import type { AuditRequest, AuditResponse } from '../../shared/audit-protocol.js';
import { CENTRAL_SYNC_COLUMNS as S, entryForEntity, pullable, type CatalogEntry } from '../../shared/catalog/index.js';
import type { Database, Queryable } from '../db/database.js';
import { ident } from '../db/sql.js';
import { badRequest, conflict } from '../errors.js';
import type { Acting } from './fleet.js';

/** Rows read for one request at most (an audit of 100,000 rows in step is one request). */
export const AUDIT_ROW_BUDGET = 200_000;
const PAGE = 10_000;
/** Database collations that already order text by code point (UTF-8 bytes): the primary key's index serves the order. */
const BYTE_ORDER_COLLATIONS = new Set(['C', 'POSIX', 'C.UTF-8', 'C.utf8', 'ucs_basic']);

/**
 * A page of one range's live rows in the terminal's scope, in UTF-8 byte order:
 * $1 limit, $2 after (null: from the first), $3 up to (null: to the last), $4 the store.
 */
export function auditPageSql(entry: CatalogEntry, byteOrdered: boolean): string {
  const id = byteOrdered ? 'id' : 'id COLLATE "C"';
  const where = [`${ident(S.deletedAt)} IS NULL`, `($2::text IS NULL OR ${id} > $2::text)`, `($3::text IS NULL OR ${id} <= $3::text)`];
  if (entry.centralStoreColumn !== undefined) {
    const store = ident(entry.centralStoreColumn);
    where.push(`(${store} = $4::text OR ${store} IS NULL)`);
  }
  // Only what the digest covers: the key, the version and the business columns.
  const cols = ['id', S.version, ...entry.wireColumns.map((c) => c.name)].map(ident).join(', ');
  return `SELECT ${cols} FROM ${ident(entry.centralName)} WHERE ${where.join(' AND ')} ORDER BY ${id} LIMIT $1`;
}

export class AuditService {
  private byteOrdered: Promise<boolean> | undefined;

  constructor(
    private readonly db: Database,
    private readonly rowBudget = AUDIT_ROW_BUDGET,
  ) {}

  async audit(acting: Acting, req: AuditRequest): Promise<AuditResponse> {
    const entry = entryForEntity(req.entityType) as CatalogEntry;
    if (!pullable(entry)) {
      throw badRequest('NOT_PULLED', `${entry.entityType} is synced from terminals to central only (direction up); central serves no rows of it to a terminal to audit`);
    }
    if (req.schemaHash !== undefined && req.schemaHash !== entry.schemaHash) {
      throw conflict('SCHEMA_MISMATCH', `${entry.entityType}: terminal schema ${req.schemaHash} differs from central ${entry.schemaHash}; the audit compares rows only when both run the same catalog`);
    }
    const byteOrdered = await (this.byteOrdered ??= this.readCollation());
    const sql = auditPageSql(entry, byteOrdered);
    const opts = { fanOut: req.fanOut, listUpTo: req.listUpTo };
    const ranges = await this.db.transaction(async (tx) => {
      // Every range of the request from one snapshot.
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const out = [];
      let budget = this.rowBudget;
      for (const asked of req.ranges) {
        if (budget <= 0) break;
        const { rows, complete } = await this.readRange(tx, sql, entry, acting, asked, budget);
        budget -= rows.length;
        out.push(answerRange(asked, rows, complete, opts));
      }
      return out;
    });
    return { terminalId: acting.terminalId, entityType: entry.entityType, schemaHash: entry.schemaHash, ranges };
  }

  /** Up to `budget` rows of a range in order; `complete` when they are all of it. */
  private async readRange(tx: Queryable, sql: string, entry: CatalogEntry, acting: Acting, range: IdRange, budget: number): Promise<{ rows: AuditRow[]; complete: boolean }> {
    const rows: AuditRow[] = [];
    let after = range.after;
    for (;;) {
      // One row past the budget tells whether the range goes on.
      const limit = Math.min(PAGE, budget + 1 - rows.length);
      const params: unknown[] = [limit, after, range.upTo];
      if (entry.centralStoreColumn !== undefined) params.push(acting.storeId);
      const r = await tx.query(sql, params);
      for (const db of r.rows) {
        const id = db.id as string;
        rows.push({ id, version: Number(db[S.version]), hash: contentHash(entry, id, db) });
      }
      if (rows.length > budget) {
        rows.length = budget;
        return { rows, complete: false };
      }
      if (r.rows.length < limit) return { rows, complete: true };
      after = (rows.at(-1) as AuditRow).id;
    }
  }

  private async readCollation(): Promise<boolean> {
    const r = await this.db.query<{ c: string }>('SELECT datcollate AS c FROM pg_database WHERE datname = current_database()');
    return BYTE_ORDER_COLLATIONS.has(r.rows[0]?.c ?? '');
  }
}
