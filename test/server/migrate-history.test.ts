/**
 * Central's migrator applies every migration its database has not applied yet,
 * whatever the order of their journal times. Migration 0008 was committed with a
 * journal time later than 0009's and 0010's (added after it): a database migrated by
 * the release that ended at 0008 must still get 0009 and 0010 when it is upgraded.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CENTRAL_MIGRATIONS, migrate } from '../../src/server/db/migrate.js';
import { testDatabase, type TestDatabase } from '../helpers/central.js';

interface Journal {
  entries: { idx: number; when: number; tag: string }[];
}

/** A copy of the migrations folder whose journal stops after `tag` (an older release's). */
function releaseUpTo(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tillsync-migrations-'));
  cpSync(CENTRAL_MIGRATIONS, dir, { recursive: true });
  const path = join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(readFileSync(path, 'utf8')) as Journal;
  const end = journal.entries.findIndex((e) => e.tag === tag);
  if (end < 0) throw new Error(`no migration ${tag}`);
  journal.entries = journal.entries.slice(0, end + 1);
  writeFileSync(path, JSON.stringify(journal));
  return dir;
}

const columnExists = async (t: TestDatabase, table: string, column: string) =>
  (await t.db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`, [table, column])).rows.length === 1;

describe('migrations applied by what is missing, not by the latest time', () => {
  let t: TestDatabase;
  let old: string;
  beforeAll(async () => {
    t = await testDatabase({ blank: true });
    old = releaseUpTo('0008_origin_per_row');
  });
  afterAll(async () => {
    await t.close();
    rmSync(old, { recursive: true, force: true });
  });

  it('a database at 0008 gets 0009 and 0010 (journal times below 0008s) and every later one, once', async () => {
    const journal = JSON.parse(readFileSync(join(CENTRAL_MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as Journal;
    expect(await migrate(t.db, old)).toBe(9);
    expect(await columnExists(t, 'sync_terminals', 'schema_version')).toBe(false); // 0009's

    const applied = await migrate(t.db);
    expect(applied).toBe(journal.entries.length - 9);
    expect(await columnExists(t, 'sync_terminals', 'schema_version')).toBe(true); // 0009
    expect(await columnExists(t, 'sync_terminals', 'pull_cursors')).toBe(true);
    const history = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
    expect(Number(history.rows[0]?.n)).toBe(journal.entries.length);

    // Nothing is applied twice.
    expect(await migrate(t.db)).toBe(0);
  });
});
