/**
 * Sync helpers for tests against a started central (see central.ts): push and pull
 * as a provisioned terminal, and read central's database directly.
 */
import { expect } from 'vitest';
import type { z } from 'zod';
import { CATALOG } from '../../src/shared/catalog/index.js';
import type { PulledChange, PullResponse, PushChange, PushResponse } from '../../src/shared/protocol.js';
import type { ApiClient, ProvisionedTerminal, TestCentral } from './central.js';

export type ChangeIn = z.input<typeof PushChange>;
export type Row = Record<string, unknown>;
export type PullQuery = Record<string, string | number | undefined>;
/** What the database helpers need of a central: its database. */
export type WithDb = Pick<TestCentral, 'db'>;

/** POST /api/sync/push as `t`; the answer, whatever its status. */
export function push(t: ProvisionedTerminal, changes: ChangeIn[], schemaHashes?: Record<string, string>) {
  return t.api.post<PushResponse>('/api/sync/push', { terminalId: t.terminalId, changes, ...(schemaHashes ? { schemaHashes } : {}) });
}

/** A push that must answer 200 with one result per change. */
export async function pushOk(t: ProvisionedTerminal, changes: ChangeIn[], schemaHashes?: Record<string, string>): Promise<PushResponse> {
  const r = await push(t, changes, schemaHashes);
  expect(r.status, r.text).toBe(200);
  expect(r.body.results).toHaveLength(changes.length);
  return r.body;
}

/** The row of `table` with this id, as central stores it. */
export async function rowOf(c: WithDb, table: string, id: string): Promise<Row | undefined> {
  const r = await c.db.query<Row>(`SELECT * FROM ${table} WHERE id = $1`, [id]);
  return r.rows[0];
}

/** `SELECT count(*) FROM <sql>`: `sql` is the table, optionally followed by a WHERE clause. */
export async function count(c: WithDb, sql: string, params: unknown[] = []): Promise<number> {
  const r = await c.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params);
  return Number(r.rows[0]?.n);
}

/**
 * How many answers central keeps, wherever they live: in sync_applied, or on the row
 * that still holds its latest change (sync_change_id, issue 17). `where` picks them: by
 * change id, by the row they are about, or by the terminal that sent them (on a row:
 * the row's writer).
 */
async function answersWhere(c: WithDb, where: 'changeIds' | 'entityIds' | 'terminalId', param: unknown): Promise<number> {
  const applied = { changeIds: 'change_id = ANY($1::text[])', entityIds: 'entity_id = ANY($1::text[])', terminalId: 'terminal_id = $1' }[where];
  const onRow = { changeIds: 'sync_change_id = ANY($1::text[])', entityIds: 'id = ANY($1::text[])', terminalId: 'sync_origin = $1' }[where];
  const branches = [
    `SELECT count(*) AS n FROM sync_applied WHERE ${applied}`,
    ...CATALOG.map((e) => `SELECT count(*) FROM "${e.centralName}" WHERE ${onRow} AND sync_change_id IS NOT NULL`),
  ];
  const r = await c.db.query<{ n: number }>(`SELECT sum(n)::int AS n FROM (${branches.join(' UNION ALL ')}) x`, [param]);
  return Number(r.rows[0]?.n);
}

/** How many answers central keeps for these change ids. A change settled once has one. */
export const answersKept = (c: WithDb, changeIds: readonly string[]): Promise<number> => answersWhere(c, 'changeIds', changeIds);

/** How many answers central keeps for changes of these rows (any table). */
export const answersForRows = (c: WithDb, entityIds: readonly string[]): Promise<number> => answersWhere(c, 'entityIds', entityIds);

/** How many answers central keeps for a terminal's changes (on a row: the rows it wrote last). */
export const answersOfTerminal = (c: WithDb, terminalId: string): Promise<number> => answersWhere(c, 'terminalId', terminalId);

/** Waits until every logged change is older than the oldest running transaction (what a pull may serve). */
export async function settled(c: WithDb): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const r = await c.db.query<{ ok: boolean }>(
      'SELECT NOT EXISTS (SELECT 1 FROM sync_changes WHERE txid >= pg_snapshot_xmin(pg_current_snapshot())) AS ok',
    );
    if (r.rows[0]?.ok) return;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error('the change log did not settle');
}

/** GET /api/sync/pull; the answer, whatever its status. */
export function pull(api: ApiClient, terminalId: string, entityType: string, q: PullQuery = {}) {
  return api.get<PullResponse>('/api/sync/pull', { terminalId, entityType, ...q });
}

/** A pull as `t` that must answer 200. */
export async function pullOk(t: ProvisionedTerminal, entityType: string, q: PullQuery = {}): Promise<PullResponse> {
  const r = await pull(t.api, t.terminalId, entityType, q);
  expect(r.status, r.text).toBe(200);
  return r.body;
}

/**
 * Every page from `cursor` (or the start) on, `limit` changes a page, each answered 200;
 * returns the changes and the final cursor. Fails after 1000 pages.
 */
export async function pullPages(api: ApiClient, terminalId: string, entityType: string, opts: { cursor?: string | undefined; limit: number }) {
  const changes: PulledChange[] = [];
  let cursor = opts.cursor;
  for (let page = 0; page < 1000; page++) {
    const r = await pull(api, terminalId, entityType, { cursor, limit: opts.limit });
    expect(r.status, r.text).toBe(200);
    changes.push(...r.body.changes);
    cursor = r.body.cursor;
    if (!r.body.hasMore) return { changes, cursor };
  }
  throw new Error('pull did not finish');
}

/**
 * Once the change log has settled, every page (1000 changes each) from `from` (or the
 * start) on, as `t` (through `api`, `t`'s own by default); the changes and the final cursor.
 */
export async function pullAll(c: WithDb, t: ProvisionedTerminal, entityType: string, from?: string, api: ApiClient = t.api) {
  await settled(c);
  return pullPages(api, t.terminalId, entityType, { cursor: from, limit: 1000 });
}
