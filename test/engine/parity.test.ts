/**
 * Schema parity: compareSchemas on crafted inputs, then the whole check against a
 * real central (GET /api/sync/schema) and real SQLite files, and the command.
 */
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AgentConfigError } from '../../src/main/engine-settings.js';
import { CentralClient } from '../../src/main/sync/central-client.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import {
  centralDataType,
  compareSchemas,
  formatParityReport,
  localTypeMatches,
  readLocalColumns,
  readLocalSchema,
  sqliteAffinity,
  type ParityReport,
  type TableParity,
} from '../../src/agent/parity.js';
import { parityCommand } from '../../src/agent/commands/parity.js';
import { localType } from '../../src/main/sync/schema.js';
import { CATALOG, CENTRAL_SYNC_COLUMNS, LOCAL_ONLY_COLUMNS, entryForTable } from '../../src/shared/catalog/index.js';
import { SchemaResponse } from '../../src/shared/protocol.js';
import { ApiClient, useCentral, type ProvisionedTerminal } from '../helpers/central.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ------------------------------------------------------------------ crafted inputs

/** A SQLite schema exactly as the engine would create it. */
function perfectLocal(): Map<string, Map<string, string>> {
  return new Map(
    CATALOG.map((e) => [
      e.table,
      new Map<string, string>([
        ['id', 'INTEGER'],
        ['server_id', 'TEXT'],
        ...e.wireColumns.map((c): [string, string] => [c.local, localType(c.def)]),
        ...LOCAL_ONLY_COLUMNS.filter((c) => c !== 'local_id' && c !== 'server_id').map((c): [string, string] => [c, 'TEXT']),
      ]),
    ]),
  );
}

/** Central's answer exactly as its migrations create the tables. */
function perfectCentral(): SchemaResponse {
  return {
    serverTime: new Date().toISOString(),
    tables: CATALOG.map((e) => ({
      entityType: e.entityType,
      table: e.centralName,
      schemaHash: e.schemaHash,
      exists: true,
      columns: [
        { name: 'id', dataType: 'text', nullable: false },
        ...e.wireColumns.map((c) => ({ name: c.name, dataType: centralDataType(c.def), nullable: !c.def.required })),
        { name: CENTRAL_SYNC_COLUMNS.version, dataType: 'bigint', nullable: false },
        { name: CENTRAL_SYNC_COLUMNS.hlc, dataType: 'text', nullable: true },
        { name: CENTRAL_SYNC_COLUMNS.origin, dataType: 'text', nullable: true },
        { name: CENTRAL_SYNC_COLUMNS.updatedAt, dataType: 'timestamp with time zone', nullable: false },
        { name: CENTRAL_SYNC_COLUMNS.deletedAt, dataType: 'timestamp with time zone', nullable: true },
      ],
    })),
  };
}

const tableOf = (report: ParityReport, table: string): TableParity => {
  const t = report.tables.find((x) => x.table === table);
  if (!t) throw new Error(`no report for ${table}`);
  return t;
};

/** Every table other than `except` is clean. */
function othersClean(report: ParityReport, except: string[]): void {
  for (const t of report.tables) if (!except.includes(t.table)) expect(t.ok, `${t.table}: ${JSON.stringify(t)}`).toBe(true);
}

describe('compareSchemas (crafted inputs)', () => {
  it('a fully matching schema is ok, with the catalog renames listed', () => {
    const report = compareSchemas(perfectLocal(), perfectCentral());
    expect(report.summary).toMatchObject({
      ok: true,
      tables: CATALOG.length,
      tablesOk: CATALOG.length,
      tablesWithDifferences: [],
      tablesMissingLocally: [],
      tablesMissingAtCentral: [],
      unknownEntityTypes: [],
      missingLocally: 0,
      missingAtCentral: 0,
      extraLocally: 0,
      extraAtCentral: 0,
      typeMismatches: 0,
      schemaHashMismatches: 0,
    });
    const inv = tableOf(report, 'inventory_items');
    expect(inv.renamed).toEqual([{ local: 'stock_quantity', central: 'master_stock_quantity' }]);
    expect(inv.ok).toBe(true);
    expect(tableOf(report, 'products').renamed).toEqual([]);
    expect(formatParityReport(report)).toContain(`OK: ${CATALOG.length} of ${CATALOG.length}`);
    expect(formatParityReport(report)).toContain('inventory_items.stock_quantity -> master_stock_quantity');
  });

  it('a catalog column absent from SQLite is missing locally', () => {
    const local = perfectLocal();
    local.get('products')?.delete('barcode');
    local.get('inventory_items')?.delete('stock_quantity');
    const report = compareSchemas(local, perfectCentral());
    expect(report.summary.ok).toBe(false);
    expect(tableOf(report, 'products')).toMatchObject({ ok: false, missingLocally: ['barcode'], missingAtCentral: [], extraLocally: [], typeMismatches: [] });
    expect(tableOf(report, 'inventory_items').missingLocally).toEqual(['stock_quantity']);
    expect(report.summary.missingLocally).toBe(2);
    expect(report.summary.tablesWithDifferences).toEqual(['products', 'inventory_items']);
    othersClean(report, ['products', 'inventory_items']);
    expect(formatParityReport(report)).toMatch(/products \[Product\]\n\s+missing locally:\s+barcode/);
  });

  it('a table without its integer key is reported (sync skips it)', () => {
    const local = perfectLocal();
    local.get('brands')?.delete('id');
    local.get('taxes')?.set('id', 'TEXT');
    const report = compareSchemas(local, perfectCentral());
    expect(tableOf(report, 'brands').missingLocally).toEqual(['id']);
    expect(tableOf(report, 'taxes').typeMismatches).toEqual([{ column: 'id', side: 'local', expected: 'INTEGER', actual: 'TEXT' }]);
  });

  it('a catalog, key or sync column absent from PostgreSQL is missing at central (by its central name)', () => {
    const central = perfectCentral();
    const inv = central.tables.find((t) => t.table === 'inventory_items');
    const products = central.tables.find((t) => t.table === 'products');
    if (!inv || !products) throw new Error('fixture');
    inv.columns = inv.columns.filter((c) => c.name !== 'master_stock_quantity');
    products.columns = products.columns.filter((c) => c.name !== 'barcode' && c.name !== 'sync_version');
    const report = compareSchemas(perfectLocal(), central);
    expect(tableOf(report, 'inventory_items')).toMatchObject({ ok: false, missingAtCentral: ['master_stock_quantity'], missingLocally: [] });
    expect(tableOf(report, 'products').missingAtCentral).toEqual(['barcode', 'sync_version']);
    othersClean(report, ['products', 'inventory_items']);
  });

  it('columns outside the catalog are extra; local-only, key and sync_* columns are not', () => {
    const local = perfectLocal();
    local.get('products')?.set('image_path', 'TEXT');
    local.get('products')?.set('master_stock_quantity', 'REAL');
    const central = perfectCentral();
    const products = central.tables.find((t) => t.table === 'products');
    if (!products) throw new Error('fixture');
    products.columns.push({ name: 'hq_margin', dataType: 'numeric', nullable: true }, { name: 'sync_future_meta', dataType: 'text', nullable: true });
    const report = compareSchemas(local, central);
    expect(tableOf(report, 'products')).toMatchObject({
      ok: false,
      extraLocally: ['image_path', 'master_stock_quantity'],
      extraAtCentral: ['hq_margin'],
      missingLocally: [],
      missingAtCentral: [],
      typeMismatches: [],
    });
    expect(report.summary).toMatchObject({ extraLocally: 2, extraAtCentral: 1 });
    othersClean(report, ['products']);
  });

  it('type mismatches on either side, with the expected types of the catalog', () => {
    const local = perfectLocal();
    local.get('products')?.set('price', 'TEXT');
    local.get('products')?.set('category_id', 'TEXT'); // a foreign key holds a local integer id
    local.get('customers')?.set('loyalty_points', 'REAL');
    const central = perfectCentral();
    const set = (table: string, column: string, dataType: string) => {
      const col = central.tables.find((t) => t.table === table)?.columns.find((c) => c.name === column);
      if (!col) throw new Error('fixture');
      col.dataType = dataType;
    };
    set('products', 'price', 'text');
    set('products', 'category_id', 'bigint'); // a foreign key holds a central text id
    set('customers', 'loyalty_points', 'integer');
    set('orders', 'ordered_at', 'timestamp without time zone');
    set('audit_logs', 'details', 'json');
    set('inventory_items', 'master_stock_quantity', 'double precision');
    const report = compareSchemas(local, central);
    expect(tableOf(report, 'products').typeMismatches).toEqual([
      { column: 'category_id', side: 'local', expected: 'INTEGER', actual: 'TEXT' },
      { column: 'price', side: 'local', expected: 'REAL', actual: 'TEXT' },
      { column: 'category_id', side: 'central', expected: 'text', actual: 'bigint' },
      { column: 'price', side: 'central', expected: 'numeric', actual: 'text' },
    ]);
    expect(tableOf(report, 'customers').typeMismatches).toEqual([
      { column: 'loyalty_points', side: 'local', expected: 'INTEGER', actual: 'REAL' },
      { column: 'loyalty_points', side: 'central', expected: 'bigint', actual: 'integer' },
    ]);
    expect(tableOf(report, 'orders').typeMismatches).toEqual([
      { column: 'ordered_at', side: 'central', expected: 'timestamp with time zone', actual: 'timestamp without time zone' },
    ]);
    expect(tableOf(report, 'audit_logs').typeMismatches).toEqual([{ column: 'details', side: 'central', expected: 'jsonb', actual: 'json' }]);
    expect(tableOf(report, 'inventory_items').typeMismatches).toEqual([
      { column: 'master_stock_quantity', side: 'central', expected: 'numeric', actual: 'double precision' },
    ]);
    expect(report.summary.typeMismatches).toBe(9);
    othersClean(report, ['products', 'customers', 'orders', 'audit_logs', 'inventory_items']);
    expect(formatParityReport(report)).toContain('price (SQLite) is TEXT, expected REAL');
  });

  it('SQLite declared types are compared by affinity (VARCHAR is TEXT, DECIMAL and BOOLEAN serve numbers)', () => {
    expect(sqliteAffinity('VARCHAR(80)')).toBe('TEXT');
    expect(sqliteAffinity('BIGINT')).toBe('INTEGER');
    expect(sqliteAffinity('DOUBLE PRECISION')).toBe('REAL');
    expect(sqliteAffinity('DECIMAL(10,2)')).toBe('NUMERIC');
    expect(sqliteAffinity('')).toBe('BLOB');
    const products = entryForTable('products');
    const col = (name: string) => {
      const c = products?.wireColumns.find((w) => w.local === name);
      if (!c) throw new Error(name);
      return c.def;
    };
    expect(localTypeMatches('VARCHAR(80)', col('sku'))).toBe(true);
    expect(localTypeMatches('DECIMAL(10,2)', col('price'))).toBe(true);
    expect(localTypeMatches('BOOLEAN', col('active'))).toBe(true);
    expect(localTypeMatches('DATETIME', col('created_at'))).toBe(true);
    expect(localTypeMatches('BIGINT', col('category_id'))).toBe(true);
    expect(localTypeMatches('INTEGER', col('price'))).toBe(false); // cents are not a decimal price
    expect(localTypeMatches('TEXT', col('price'))).toBe(false);
    expect(localTypeMatches('', col('name'))).toBe(false);
    expect(localTypeMatches('NUMERIC', col('name'))).toBe(false);
    const local = perfectLocal();
    local.get('products')?.set('sku', 'VARCHAR(64)');
    local.get('products')?.set('price', 'DECIMAL(10,2)');
    local.get('products')?.set('active', 'BOOLEAN');
    local.get('products')?.set('created_at', 'DATETIME');
    local.get('products')?.set('name', '');
    expect(tableOf(compareSchemas(local, perfectCentral()), 'products').typeMismatches).toEqual([
      { column: 'name', side: 'local', expected: 'TEXT', actual: '(none)' },
    ]);
  });

  it('a table missing on the terminal is listed but is no difference (sync skips it); one missing at central is', () => {
    const local = perfectLocal();
    local.delete('purchase_orders');
    local.set('purchase_order_items', new Map());
    const central = perfectCentral();
    const receipts = central.tables.find((t) => t.table === 'receipts');
    if (!receipts) throw new Error('fixture');
    receipts.exists = false;
    receipts.columns = [];
    const report = compareSchemas(local, central);
    expect(tableOf(report, 'purchase_orders')).toMatchObject({ presentLocally: false, presentAtCentral: true, ok: true, missingLocally: [] });
    expect(tableOf(report, 'purchase_order_items').presentLocally).toBe(false);
    expect(tableOf(report, 'receipts')).toMatchObject({ presentLocally: true, presentAtCentral: false, ok: false, missingAtCentral: [] });
    expect(report.summary).toMatchObject({
      ok: false,
      tablesMissingLocally: ['purchase_orders', 'purchase_order_items'],
      tablesMissingAtCentral: ['receipts'],
      tablesWithDifferences: ['receipts'],
    });
    const text = formatParityReport(report);
    expect(text).toContain('table missing at central');
    expect(text).toContain('not in the POS database (not synced): purchase_orders, purchase_order_items');
  });

  it('another catalog version at central (hash differs, unknown or absent entity types) is a difference', () => {
    const central = perfectCentral();
    const taxes = central.tables.find((t) => t.table === 'taxes');
    if (!taxes) throw new Error('fixture');
    taxes.schemaHash = '0000000000000000';
    central.tables = central.tables.filter((t) => t.table !== 'brands');
    central.tables.push({ entityType: 'GiftCard', table: 'gift_cards', schemaHash: 'x', exists: true, columns: [] });
    const report = compareSchemas(perfectLocal(), central);
    expect(tableOf(report, 'taxes')).toMatchObject({ schemaHashMatches: false, ok: false });
    expect(tableOf(report, 'brands')).toMatchObject({ presentAtCentral: false, schemaHashMatches: false, ok: false });
    expect(report.summary).toMatchObject({ ok: false, unknownEntityTypes: ['GiftCard'], schemaHashMismatches: 2, tablesWithDifferences: ['brands', 'taxes'] });
  });
});

// ------------------------------------------------------------------ real central, real SQLite

/** A legacy POS database written by hand: products without barcode, with an extra column and a text price; inventory with central's column name. */
function legacyDatabase(path: string): void {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE products (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      sku VARCHAR(64) NOT NULL,
      name VARCHAR(200) NOT NULL,
      description TEXT,
      category_id INTEGER,
      brand_id INTEGER,
      tax_id INTEGER,
      price TEXT NOT NULL,
      cost DECIMAL(10,2),
      unit TEXT,
      active BOOLEAN,
      created_at DATETIME,
      updated_at DATETIME,
      legacy_flag INTEGER
    );
    CREATE TABLE inventory_items (
      id INTEGER PRIMARY KEY,
      store_id INTEGER, product_id INTEGER, variant_id INTEGER,
      master_stock_quantity REAL, reorder_level REAL, location TEXT, created_at TEXT, updated_at TEXT,
      server_id TEXT, sync_status TEXT, last_sync_at TEXT
    );
    INSERT INTO products (sku, name, price) VALUES ('A-1', 'Apple', '1.20');
  `);
  db.close();
}

describe('parity against a real central and real SQLite files', () => {
  const c = useCentral();
  let t: ProvisionedTerminal;
  let dir: string;

  beforeAll(async () => {
    t = await c.provision('store-parity');
    dir = mkdtempSync(join(tmpdir(), 'tillsync-parity-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => vi.restoreAllMocks());

  const client = () => new CentralClient({ baseUrl: c.url, apiKey: t.apiKey });

  /** A terminal database as the engine creates it. */
  function engineDatabase(name: string): string {
    const path = join(dir, name);
    new LocalStore(path, t.terminalId, { create: true }).close();
    return path;
  }

  /** Runs the command in this process; its exit code and what it printed. */
  async function runCommand(database: string, json: boolean): Promise<{ code: number; out: string }> {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    });
    try {
      const code = await parityCommand.run({
        flags: { database, 'central-url': c.url, 'api-key': t.apiKey, 'terminal-id': t.terminalId, json },
        env: {},
      });
      return { code, out };
    } finally {
      vi.restoreAllMocks();
    }
  }

  it('GET /api/sync/schema needs a key and reveals only the catalog tables', async () => {
    const anonymous = await new ApiClient(c.url, undefined).get('/api/sync/schema');
    expect(anonymous.status, anonymous.text).toBe(401);
    expect(JSON.stringify(anonymous.body)).not.toContain('columns');
    const wrong = await new ApiClient(c.url, 'tsk_not-a-key').get('/api/sync/schema');
    expect(wrong.status).toBe(401);

    for (const api of [t.api, c.admin]) {
      const r = await api.get<SchemaResponse>('/api/sync/schema');
      expect(r.status, r.text).toBe(200);
      expect(SchemaResponse.safeParse(r.body).success).toBe(true);
      expect(r.body.tables.map((x) => x.table)).toEqual(CATALOG.map((e) => e.centralName));
      expect(r.body.tables.map((x) => x.entityType)).toEqual(CATALOG.map((e) => e.entityType));
      expect(r.text).not.toMatch(/sync_terminals|sync_applied|sync_changes|sync_admin|key_hash|token_hash/);
      for (const table of r.body.tables) {
        const e = CATALOG.find((x) => x.entityType === table.entityType);
        expect(table.schemaHash).toBe(e?.schemaHash);
        expect(table.exists).toBe(true);
        expect(Object.keys(table.columns[0] ?? {}).sort()).toEqual(['dataType', 'name', 'nullable']);
      }
    }
    const inv = (await client().schema()).tables.find((x) => x.table === 'inventory_items');
    expect(inv?.columns.find((x) => x.name === 'master_stock_quantity')).toEqual({ name: 'master_stock_quantity', dataType: 'numeric', nullable: true });
    expect(inv?.columns.find((x) => x.name === 'store_id')).toEqual({ name: 'store_id', dataType: 'text', nullable: false });
    expect(inv?.columns.find((x) => x.name === 'sync_version')?.dataType).toBe('bigint');
  });

  it('a database created by the engine matches central (ok)', async () => {
    const path = engineDatabase('engine.db');
    const report = compareSchemas(readLocalSchema(path), await client().schema());
    expect(report.summary.tablesWithDifferences).toEqual([]);
    expect(report.summary.ok).toBe(true);
    expect(report.summary.tablesMissingLocally).toEqual([]);
    expect(tableOf(report, 'inventory_items').renamed).toEqual([{ local: 'stock_quantity', central: 'master_stock_quantity' }]);
  });

  it('a hand-made legacy database is reported precisely, and reading it installs nothing', async () => {
    const path = join(dir, 'legacy.db');
    legacyDatabase(path);
    const report = compareSchemas(readLocalSchema(path), await client().schema());
    expect(report.summary.ok).toBe(false);
    const products = tableOf(report, 'products');
    expect(products).toMatchObject({
      presentLocally: true,
      presentAtCentral: true,
      missingLocally: ['barcode'],
      missingAtCentral: [],
      extraLocally: ['legacy_flag'],
      extraAtCentral: [],
      typeMismatches: [{ column: 'price', side: 'local', expected: 'REAL', actual: 'TEXT' }],
      ok: false,
    });
    const inv = tableOf(report, 'inventory_items');
    expect(inv).toMatchObject({
      missingLocally: ['stock_quantity'],
      extraLocally: ['master_stock_quantity'],
      renamed: [{ local: 'stock_quantity', central: 'master_stock_quantity' }],
      typeMismatches: [],
      ok: false,
    });
    expect(report.summary.tablesWithDifferences).toEqual(['products', 'inventory_items']);
    expect(report.summary.tablesMissingLocally).toHaveLength(CATALOG.length - 2);
    // Read-only: no column, table or trigger was added.
    const db = new Database(path, { readonly: true });
    try {
      expect(readLocalColumns(db).get('products')?.has('server_id')).toBe(false);
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'tillsync%'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it('a missing file is a clear error', () => {
    expect(() => readLocalSchema(join(dir, 'nope.db'))).toThrow(/nope\.db does not exist/);
  });

  it('the command exits 0 on a matching database and 1 on a legacy one (text and JSON)', async () => {
    const good = engineDatabase('cmd-good.db');
    const bad = join(dir, 'cmd-legacy.db');
    legacyDatabase(bad);

    const okText = await runCommand(good, false);
    expect(okText.code, okText.out).toBe(0);
    expect(okText.out).toMatch(/OK: \d+ of \d+ catalog tables match/);

    const okJson = await runCommand(good, true);
    expect(okJson.code).toBe(0);
    const parsed = JSON.parse(okJson.out) as ParityReport & { database: string; central: string };
    expect(parsed.summary.ok).toBe(true);
    expect(parsed.database).toBe(good);

    const badText = await runCommand(bad, false);
    expect(badText.code).toBe(1);
    expect(badText.out).toMatch(/products \[Product\]/);
    expect(badText.out).toMatch(/missing locally:\s+barcode/);
    expect(badText.out).toMatch(/extra locally:\s+legacy_flag/);
    expect(badText.out).toContain('price (SQLite) is TEXT, expected REAL');
    expect(badText.out).toMatch(/DIFFERENCES in 2 of \d+ tables/);

    const badJson = await runCommand(bad, true);
    expect(badJson.code).toBe(1);
    expect((JSON.parse(badJson.out) as ParityReport).summary.tablesWithDifferences).toEqual(['products', 'inventory_items']);

    await expect(runCommand(join(dir, 'absent.db'), false)).rejects.toBeInstanceOf(AgentConfigError);
    await expect(parityCommand.run({ flags: { database: good }, env: {} })).rejects.toThrow(/CENTRAL_API_URL/);
  });

  it('the command in a child process: exit codes 0 and 1 from the environment settings', async () => {
    const good = engineDatabase('child-good.db');
    const bad = join(dir, 'child-legacy.db');
    legacyDatabase(bad);
    const script =
      "const { parityCommand } = await import('./src/agent/commands/parity.ts');" +
      'process.exitCode = await parityCommand.run({ flags: { json: process.env.PARITY_JSON === "1" }, env: process.env });';
    // Asynchronously: this process serves the central the child talks to.
    const run = (database: string, json: boolean) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script],
          {
            cwd: ROOT,
            encoding: 'utf8',
            timeout: 60_000,
            env: {
              PATH: process.env.PATH,
              DATABASE_URL: `file:${database}`,
              CENTRAL_API_URL: c.url,
              CENTRAL_API_KEY: t.apiKey,
              TERMINAL_ID: t.terminalId,
              PARITY_JSON: json ? '1' : '0',
            },
          },
          (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
        );
      });
    const ok = await run(good, true);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as ParityReport).summary.ok).toBe(true);
    const differs = await run(bad, false);
    expect(differs.code, differs.stderr).toBe(1);
    expect(differs.stdout).toMatch(/missing locally:\s+barcode/);
  });
});

describe('parity after central drifts (SQL at central)', () => {
  const c = useCentral();
  let t: ProvisionedTerminal;
  let dir: string;

  beforeAll(async () => {
    t = await c.provision('store-drift');
    dir = mkdtempSync(join(tmpdir(), 'tillsync-parity-drift-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a dropped column is missing at central, an altered one a type mismatch, an added one extra', async () => {
    const path = join(dir, 'engine.db');
    new LocalStore(path, t.terminalId, { create: true }).close();
    await c.db.query('ALTER TABLE products DROP COLUMN barcode');
    await c.db.query('ALTER TABLE customers ALTER COLUMN loyalty_points TYPE integer');
    await c.db.query('ALTER TABLE inventory_items RENAME COLUMN master_stock_quantity TO stock_quantity');
    await c.db.query('ALTER TABLE brands ADD COLUMN hq_logo_url text');
    const schema = await new CentralClient({ baseUrl: c.url, apiKey: t.apiKey }).schema();
    const report = compareSchemas(readLocalSchema(path), schema);
    expect(tableOf(report, 'products')).toMatchObject({ missingAtCentral: ['barcode'], missingLocally: [], extraAtCentral: [], typeMismatches: [], ok: false });
    expect(tableOf(report, 'customers').typeMismatches).toEqual([{ column: 'loyalty_points', side: 'central', expected: 'bigint', actual: 'integer' }]);
    expect(tableOf(report, 'inventory_items')).toMatchObject({ missingAtCentral: ['master_stock_quantity'], extraAtCentral: ['stock_quantity'], missingLocally: [] });
    expect(tableOf(report, 'brands')).toMatchObject({ extraAtCentral: ['hq_logo_url'], ok: false });
    expect(report.summary.tablesWithDifferences).toEqual(['brands', 'products', 'customers', 'inventory_items']);
    expect(report.summary.ok).toBe(false);
  });

  it('a catalog table dropped at central shows as missing there', async () => {
    await c.db.query('DROP TABLE receipts');
    const path = join(dir, 'engine.db');
    const report = compareSchemas(readLocalSchema(path), await new CentralClient({ baseUrl: c.url, apiKey: t.apiKey }).schema());
    expect(tableOf(report, 'receipts')).toMatchObject({ presentLocally: true, presentAtCentral: false, ok: false });
    expect(report.summary.tablesMissingAtCentral).toEqual(['receipts']);
  });
});
