/**
 * `GET /api/sync/schema`: the columns PostgreSQL actually has for each catalog
 * table (information_schema, the current schema), for the terminals' parity check.
 * Only catalog tables are looked at, and only names, types and nullability leave.
 */
import { CATALOG } from '../../shared/catalog/index.js';
import type { SchemaColumn, SchemaResponse } from '../../shared/protocol.js';
import type { Queryable } from '../db/database.js';

export async function centralSchema(db: Queryable): Promise<SchemaResponse> {
  const names = CATALOG.map((e) => e.centralName);
  // information_schema shows what the server's role may see; central owns these tables.
  const tables = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [names],
  );
  const columns = await db.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1::text[])
      ORDER BY table_name, ordinal_position`,
    [names],
  );
  const existing = new Set(tables.rows.map((r) => r.table_name));
  const byTable = new Map<string, SchemaColumn[]>();
  for (const r of columns.rows) {
    let list = byTable.get(r.table_name);
    if (!list) byTable.set(r.table_name, (list = []));
    list.push({ name: r.column_name, dataType: r.data_type, nullable: r.is_nullable === 'YES' });
  }
  return {
    tables: CATALOG.map((e) => ({
      entityType: e.entityType,
      table: e.centralName,
      schemaHash: e.schemaHash,
      exists: existing.has(e.centralName),
      columns: byTable.get(e.centralName) ?? [],
    })),
    serverTime: new Date().toISOString(),
  };
}
