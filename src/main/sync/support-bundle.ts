/**
 * A support bundle: one .tar.gz that IT attaches to a ticket, with everything needed to
 * tell what a till is doing and nothing secret. Built from what the caller has (the CLI
 * opens the POS database, the companion passes its running engine) as plain inputs, so
 * the same builder serves `tillsync support-bundle`, the companion's Settings button and
 * its tray item:
 *
 *   manifest.json  the files, what could not be collected (and why), where logs are
 *   status.json    the engine's status as the companion shows it, and open conflicts
 *   settings.json  the settings in force, redacted
 *   outbox.json    outbox entries per table and state, the oldest waiting, recent failures
 *   versions.json  app, Node, Electron, better-sqlite3, SQLite, schema (migrations, catalog), OS
 *   history.json   recent sync runs
 *   parity.json    schema parity against central, or why it could not be checked
 *   logs/...       recent log lines, when this process has any (see the manifest's note)
 *
 * Every file goes through the redaction of support-bundle-redact.ts, by name and by
 * value, before it is archived.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { CATALOG } from '../../shared/catalog/index.js';
import type { EngineStatus } from '../../shared/ipc.js';
import { CentralClient } from './central-client.js';
import { compareSchemas, readLocalSchema, type ParityReport } from './parity.js';
import type { LocalStore } from './store/index.js';
import { SupportBundleManifest } from './support-bundle-manifest.js';
import { REDACTED, REDACTION_RULES, redactLog, redactValue, secretValues } from './support-bundle-redact.js';
import { tarGz, type TarEntry } from './support-bundle-tar.js';

export type BundleSource = SupportBundleManifest['source'];

/** A log to include: its name in the bundle (under logs/) and its text. */
export interface BundleLog {
  readonly name: string;
  readonly text: string;
}

export interface SupportBundleInput {
  readonly source: BundleSource;
  /** The engine's store and status, when the POS database could be opened. */
  readonly engine?: { readonly store: LocalStore; status(): EngineStatus } | undefined;
  /** Why there is no engine (not set up, a database that cannot be opened ...). */
  readonly engineProblem?: string | null | undefined;
  readonly terminalId: string | null;
  /** The settings in force, as the caller knows them (redacted here). */
  readonly settings: Record<string, unknown>;
  /** Values that must not appear anywhere in the bundle: the terminal key, tokens, the PIN hash. */
  readonly secrets: readonly (string | null | undefined)[];
  readonly appVersion: string;
  /** Checks schema parity against central; a string says why it cannot be checked here. */
  readonly parity: (() => Promise<ParityReport>) | string;
  /** Recent logs this process has, and where the rest are (the manifest's note). */
  readonly logs: { readonly files: readonly BundleLog[]; readonly note: string };
  /** Sync runs in history.json (default 200). */
  readonly historyRuns?: number;
  readonly now?: Date;
}

export interface SupportBundle {
  readonly archive: Buffer;
  readonly manifest: SupportBundleManifest;
  /** The folder the archive's files are in (its name without .tar.gz). */
  readonly folder: string;
}

/** `tillsync-support-<terminal>-<UTC time>`: the bundle's default name (and its folder inside the archive). */
export function bundleBaseName(terminalId: string | null, now: Date): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '').replace('T', '-');
  const who = (terminalId ?? 'terminal').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 60) || 'terminal';
  return `tillsync-support-${who}-${stamp}`;
}

interface OutboxRow {
  table_name: string;
  status: string;
  n: number;
  oldest: string | null;
}

/** Outbox entries per table and state, writes captured but not yet queued, the oldest waiting, and the latest failures. */
export function outboxSummary(store: LocalStore): Record<string, unknown> {
  const db = store.base.db;
  const rows = db
    .prepare(`SELECT table_name, status, count(*) AS n, min(created_at) AS oldest FROM tillsync_outbox GROUP BY table_name, status ORDER BY table_name, status`)
    .all() as OutboxRow[];
  const captured = db
    .prepare(`SELECT table_name, 'captured' AS status, count(*) AS n, min(captured_at) AS oldest FROM tillsync_capture GROUP BY table_name ORDER BY table_name`)
    .all() as OutboxRow[];
  const tables: Record<string, Record<string, { count: number; oldest: string | null }>> = {};
  const states: Record<string, number> = {};
  for (const r of [...rows, ...captured]) {
    (tables[r.table_name] ??= {})[r.status] = { count: r.n, oldest: r.oldest };
    states[r.status] = (states[r.status] ?? 0) + r.n;
  }
  const failures = db
    .prepare(
      `SELECT table_name AS "table", last_error AS error, count(*) AS count, max(created_at) AS latest FROM tillsync_outbox
       WHERE status = 'failed' GROUP BY table_name, last_error ORDER BY latest DESC LIMIT 20`,
    )
    .all();
  return {
    totals: states,
    tables,
    // Waiting = captured writes and pending entries (the engine's `pending`).
    pending: store.outbox.counts(),
    oldestPendingAt: store.outbox.oldestPendingAt(),
    recentFailures: failures,
  };
}

function packageVersion(name: string): string | null {
  try {
    const req = createRequire(import.meta.url);
    return (req(`${name}/package.json`) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

function sqliteVersion(store: LocalStore | undefined): string | null {
  try {
    if (store) return (store.base.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    const db = new Database(':memory:');
    try {
      return (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

/** The terminal database's schema: drizzle migrations applied, and the catalog this build syncs. */
function schemaVersion(store: LocalStore | undefined): Record<string, unknown> {
  const catalog = {
    tables: CATALOG.length,
    fingerprint: createHash('sha256')
      .update(CATALOG.map((e) => `${e.entityType}:${e.schemaHash}`).join(','))
      .digest('hex')
      .slice(0, 16),
  };
  if (!store) return { catalog, migrations: null };
  try {
    const m = store.base.db.prepare(`SELECT count(*) AS applied, max(created_at) AS latest FROM __drizzle_migrations`).get() as { applied: number; latest: number | null };
    return { catalog, migrations: { applied: m.applied, latestAt: m.latest === null ? null : new Date(Number(m.latest)).toISOString() } };
  } catch (err) {
    return { catalog, migrations: null, error: err instanceof Error ? err.message : String(err) };
  }
}

export function versions(appVersion: string, store: LocalStore | undefined): Record<string, unknown> {
  return {
    app: appVersion,
    node: process.versions.node,
    electron: process.versions.electron ?? null,
    betterSqlite3: packageVersion('better-sqlite3'),
    sqlite: sqliteVersion(store),
    schema: schemaVersion(store),
    os: { platform: process.platform, release: os.release(), version: os.version(), arch: process.arch },
  };
}

/** Checks parity the way `tillsync parity` does: the POS file's columns (read-only) against central's. */
export function centralParity(opts: { databasePath: string; centralUrl: string; apiKey: string; timeoutMs?: number }): () => Promise<ParityReport> {
  return async () => {
    const local = readLocalSchema(opts.databasePath);
    const client = new CentralClient({ baseUrl: opts.centralUrl, apiKey: opts.apiKey, timeoutMs: opts.timeoutMs ?? 10_000 });
    return compareSchemas(local, await client.schema());
  };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Builds the bundle: collects every section (a section that fails is recorded, never fatal), redacts, archives. */
export async function buildSupportBundle(input: SupportBundleInput): Promise<SupportBundle> {
  const now = input.now ?? new Date();
  const folder = bundleBaseName(input.terminalId, now);
  const secrets = secretValues(input.secrets);
  const problems: { section: string; message: string }[] = [];
  const files: { name: string; text: string; description: string }[] = [];
  const section = (name: string, description: string, collect: () => unknown) => {
    let value: unknown;
    try {
      value = collect();
    } catch (err) {
      problems.push({ section: name, message: message(err) });
      value = { error: message(err) };
    }
    files.push({ name, description, text: json(redactValue(value, secrets)) });
  };
  const store = input.engine?.store;
  if (!input.engine) problems.push({ section: 'status.json', message: `no engine: ${input.engineProblem ?? 'the POS database is not open'}` });

  section('status.json', "the engine's status as the companion shows it, and the open conflicts", () =>
    input.engine
      ? { status: input.engine.status(), openConflicts: input.engine.store.conflicts.openConflicts().length }
      : { status: null, problem: input.engineProblem ?? 'the POS database is not open' },
  );
  section('settings.json', `the settings in force (secrets read ${REDACTED})`, () => input.settings);
  section('outbox.json', 'outbox entries per table and state, the oldest waiting, recent failures', () =>
    store ? outboxSummary(store) : { error: 'no engine: the outbox could not be read' },
  );
  section('versions.json', 'app, Node, Electron, better-sqlite3, SQLite, schema and OS versions', () => versions(input.appVersion, store));
  section('history.json', 'recent sync runs, newest first', () => (store ? store.history.history(input.historyRuns ?? 200) : []));

  let parity: unknown;
  if (typeof input.parity === 'string') {
    problems.push({ section: 'parity.json', message: input.parity });
    parity = { error: input.parity };
  } else {
    try {
      parity = await input.parity();
    } catch (err) {
      problems.push({ section: 'parity.json', message: `schema parity could not be checked: ${message(err)}` });
      parity = { error: `schema parity could not be checked: ${message(err)}` };
    }
  }
  section('parity.json', 'schema parity: SQLite vs the catalog vs central', () => parity);

  const included: string[] = [];
  for (const log of input.logs.files) {
    // A tar header holds a name of at most 100 bytes (with the bundle's folder in front): long ones are cut.
    const name = `logs/${log.name.replace(/[^A-Za-z0-9._-]/g, '_').slice(-60)}`;
    included.push(name);
    files.push({ name, description: 'recent log lines, redacted', text: redactLog(log.text, secrets) });
  }

  const entries = files.map((f) => ({ ...f, data: Buffer.from(f.text, 'utf8') }));
  const manifest = SupportBundleManifest.parse({
    format: 'tillsync-support-bundle',
    formatVersion: 1,
    createdAt: now.toISOString(),
    source: input.source,
    terminalId: input.terminalId,
    files: entries.map((e) => ({ name: e.name, bytes: e.data.length, sha256: createHash('sha256').update(e.data).digest('hex'), description: e.description })),
    problems: redactValue(problems, secrets),
    logs: { included, note: input.logs.note },
    redaction: { marker: REDACTED, rules: [...REDACTION_RULES] },
  });
  const tarEntries: TarEntry[] = [
    { name: `${folder}/`, mtime: now },
    { name: `${folder}/manifest.json`, data: json(manifest), mtime: now },
    ...(included.length > 0 ? [{ name: `${folder}/logs/`, mtime: now }] : []),
    ...entries.map((e) => ({ name: `${folder}/${e.name}`, data: e.data, mtime: now })),
  ];
  return { archive: tarGz(tarEntries), manifest, folder };
}
