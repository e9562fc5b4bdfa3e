/**
 * Central's schema, made once and copied into each test database (test/helpers/central.ts's
 * testDatabase), as migrating each anew costs more than the copy.
 * - PostgreSQL: copies (CREATE DATABASE ... TEMPLATE) of `tillsync_tpl_<pid of the run>`:
 *   migrating each anew cost about 0.4 s, the copy under 0.1 s. The template is migrated
 *   at the run's start with the migrations as they are (and again at a rerun in watch
 *   mode), dropped at its end; templates of runs that are gone (killed before their
 *   teardown) are dropped too.
 * - PGlite: a dump of a migrated PGlite, once per worker process: a fresh PGlite migrated
 *   costs about 2 s, one loaded from the dump about 1 s.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { openPostgres, wrapPglite } from '../../src/server/db/database.js';
import { migrate } from '../../src/server/db/migrate.js';
import { leftoversOfRuns } from './run-leftovers.js';

const PREFIX = 'tillsync_tpl_';

/** Runs `fn` on a connection of its own to `adminUrl`, closed after. */
export async function onServer<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Makes (again) this run's template on the server of `adminUrl`; returns its name. */
export async function makeSchemaTemplate(adminUrl: string, pid: number = process.pid): Promise<string> {
  const name = `${PREFIX}${pid}`;
  await onServer(adminUrl, async (c) => {
    const all = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}%'`);
    for (const gone of leftoversOfRuns(all.rows.map((r) => r.datname), PREFIX)) await c.query(`DROP DATABASE IF EXISTS ${gone} WITH (FORCE)`);
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = openPostgres({ connectionString: url.toString() });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return name;
}

export async function dropSchemaTemplate(adminUrl: string, name: string): Promise<void> {
  await onServer(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

let pgliteSchema: Promise<Blob> | undefined;

/** This worker's dump of a PGlite with central's schema (made at the first call). */
export function pgliteSchemaDump(): Promise<Blob> {
  pgliteSchema ??= (async () => {
    const p = await PGlite.create();
    try {
      await migrate(wrapPglite(p, false));
      return await p.dumpDataDir('none');
    } finally {
      await p.close();
    }
  })();
  return pgliteSchema;
}
