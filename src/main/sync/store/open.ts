/** Opening a POS database: where it must be, the pragmas shared with the POS, the schema sync needs. */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CATALOG } from '../../../shared/catalog/index.js';
import { installSchema, tableColumns, type InstallReport, type Warn } from '../schema.js';
import { StoreBase, type LocalTable } from './base.js';

export interface LocalStoreOptions {
  /**
   * Make the file when it does not exist (a new terminal). Default false: a missing file
   * is a PosDatabaseMissingError, so a typo in a path never becomes a new, empty till
   * database. Its folder is never made.
   */
  readonly create?: boolean;
  /** Create the catalog's tables when missing (a new terminal). Default: only when the file is new. */
  readonly createMissing?: boolean;
  readonly warn?: Warn;
  readonly busyTimeoutMs?: number;
  /** Where the terminal's migrations are (default: next to the sources; a bundle passes its own). */
  readonly migrationsDir?: string | undefined;
}

/** The POS database is not where it was said to be (the file, or the folder it would be in). */
export class PosDatabaseMissingError extends Error {
  override name = 'PosDatabaseMissingError';
  constructor(
    readonly path: string,
    readonly missing: 'file' | 'folder',
  ) {
    super(missing === 'folder' ? `the folder ${dirname(path)} of POS database ${path} does not exist` : `POS database ${path} does not exist`);
  }
}

/** What is missing for a POS database at `path`: its folder, the file itself, or nothing. */
export function missingPart(path: string): 'file' | 'folder' | null {
  const kind = (p: string) => {
    try {
      return statSync(p).isDirectory() ? 'dir' : 'file';
    } catch {
      return null;
    }
  };
  if (kind(path) !== null) return null;
  return kind(dirname(path)) === 'dir' ? 'file' : 'folder';
}

function existsNonEmpty(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

/** Opens (or, with `create`, makes) the POS database at `path` and readies it for sync. */
export function openStore(path: string, node: string, opts: LocalStoreOptions = {}): StoreBase {
  const isNew = path === ':memory:' || !existsNonEmpty(path);
  if (path !== ':memory:') {
    const missing = missingPart(path);
    if (missing === 'folder' || (missing === 'file' && opts.create !== true)) throw new PosDatabaseMissingError(path, missing);
  }
  // fileMustExist also covers a file removed between the check and the open.
  const db = new Database(path, { fileMustExist: path !== ':memory:' && opts.create !== true });
  // Shared with the POS's own process: WAL lets it read while we write, and a busy
  // timeout waits out its short transactions instead of failing.
  db.pragma('journal_mode = WAL');
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
  db.pragma('synchronous = NORMAL');
  let install: InstallReport;
  try {
    install = installSchema(db, { createMissing: opts.createMissing ?? isNew, warn: opts.warn ?? (() => undefined), migrationsDir: opts.migrationsDir });
  } catch (err) {
    db.close();
    throw err;
  }
  const tables = new Map<string, LocalTable>();
  for (const e of CATALOG) {
    const cols = tableColumns(db, e.table);
    if (cols.size > 0 && !install.skippedTables.includes(e.table)) tables.set(e.table, { entry: e, columns: new Set(cols.keys()) });
  }
  return new StoreBase(db, path, node, install, tables);
}
