/**
 * `npm start`: the whole local stack on embedded defaults. Central on PGlite under
 * ./data/central, a demo store with sample products, a provisioned demo terminal
 * (credentials in ./data/stack.json), its sync engine inside the companion in web mode
 * (UI on http://127.0.0.1:4100 with a per-run token) on a sample POS database
 * (./data/demo-pos.db), and a POS simulator ringing up sales into that database
 * from its own process.
 *
 * It stops, children first, on SIGINT, SIGTERM or SIGHUP, and when the process that
 * started it goes away (npm killed). `npm start` execs it from npm's `sh -c`, so the
 * SIGINT or SIGTERM npm forwards to its script reaches this process: without the exec,
 * sh would catch it and wait for its child, and nothing would stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { openPosDatabase } from '../main/sync/engine.js';
import { createCentral, type Central } from '../server/app.js';
import { ConfigError, configFromEnv } from '../server/config.js';
import type { Database } from '../server/db/database.js';
import { FleetService } from '../server/services/fleet.js';

const StackFile = z.object({
  adminToken: z.string().min(16),
  terminal: z.object({ terminalId: z.string(), storeId: z.string(), apiKey: z.string() }).optional(),
});
type StackFile = z.infer<typeof StackFile>;

const DEMO_STORE = 'demo-store';
const DEMO_TERMINAL = 'demo-terminal';

function readStackFile(path: string): StackFile {
  if (!existsSync(path)) return { adminToken: `tsa_${randomBytes(24).toString('base64url')}` };
  const parsed = StackFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not a TillSync stack file (${parsed.error.issues[0]?.message}); delete it to start afresh`);
  return parsed.data;
}

function writeStackFile(path: string, data: StackFile): void {
  writeFileSync(path, JSON.stringify(data, null, 2));
  chmodSync(path, 0o600);
}

/** A small sample catalogue at central, once. */
async function seedSampleData(db: Database): Promise<number> {
  const existing = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM products');
  if ((existing.rows[0]?.n ?? 0) > 0) return 0;
  await db.transaction(async (tx) => {
    await tx.query(`INSERT INTO taxes (id, name, rate, inclusive) VALUES ('tax-std', 'Standard', 0.2, true), ('tax-red', 'Reduced', 0.05, true)`);
    await tx.query(`INSERT INTO categories (id, name) VALUES ('cat-drinks', 'Drinks'), ('cat-snacks', 'Snacks'), ('cat-grocery', 'Grocery')`);
    await tx.query(`INSERT INTO brands (id, name) VALUES ('brand-house', 'House brand')`);
    const names: [string, string, number][] = [
      ['Espresso', 'cat-drinks', 2.2],
      ['Cappuccino', 'cat-drinks', 3.1],
      ['Orange juice', 'cat-drinks', 2.8],
      ['Sparkling water', 'cat-drinks', 1.5],
      ['Croissant', 'cat-snacks', 1.9],
      ['Chocolate bar', 'cat-snacks', 1.2],
      ['Crisps', 'cat-snacks', 1.1],
      ['Sandwich', 'cat-snacks', 4.5],
      ['Milk 1L', 'cat-grocery', 1.05],
      ['Bread', 'cat-grocery', 2.4],
      ['Eggs (6)', 'cat-grocery', 2.15],
      ['Coffee beans 250g', 'cat-grocery', 6.9],
    ];
    for (const [i, [name, category, price]] of names.entries()) {
      const id = `prod-${String(i + 1).padStart(3, '0')}`;
      await tx.query(
        `INSERT INTO products (id, sku, barcode, name, category_id, brand_id, tax_id, price, cost, unit, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'brand-house', $6, $7, $8, 'each', true, now(), now())`,
        [id, `SKU-${1000 + i}`, `400000000${String(1000 + i)}`, name, category, category === 'cat-grocery' ? 'tax-red' : 'tax-std', price, Math.round(price * 55) / 100],
      );
      await tx.query(
        `INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity, reorder_level, created_at, updated_at)
         VALUES ($1, $2, $3, 100, 10, now(), now())`,
        [`inv-${DEMO_STORE}-${id}`, DEMO_STORE, id],
      );
    }
  });
  return 12;
}

/**
 * Opens the companion's page in the desktop's browser once it answers, when someone
 * is at a desktop (a terminal, a display, not CI; TILLSYNC_OPEN_BROWSER=0 turns it off).
 */
async function openInBrowser(link: string, probe: string): Promise<void> {
  const desktop = process.platform === 'darwin' || process.platform === 'win32' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!process.stdout.isTTY || process.env.CI || process.env.TILLSYNC_OPEN_BROWSER === '0' || !desktop) return;
  for (let i = 0; i < 80; i++) {
    if (await fetch(probe).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const [cmd, args] = process.platform === 'darwin' ? ['open', [link]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', link]] : ['xdg-open', [link]];
  spawn(cmd, args, { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
}

const CLI = fileURLToPath(new URL('../../bin/tillsync.mjs', import.meta.url));

/**
 * Runs `tillsync <args>` as a child process whose output goes to ours; the stdout
 * lines `drop` picks are not passed on (what the stack's own banner already says).
 */
function child(args: string[], env: NodeJS.ProcessEnv, drop?: (line: string) => boolean): ChildProcess {
  const c = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', drop ? 'pipe' : 'inherit', 'inherit'] });
  if (drop && c.stdout) {
    createInterface({ input: c.stdout, crlfDelay: Infinity }).on('line', (line) => {
      if (!drop(line)) process.stdout.write(`${line}\n`);
    });
  }
  return c;
}

/** How long a child may take to stop after SIGTERM before it is killed. */
const CHILD_GRACE_MS = 15_000;

/** SIGTERM, and the exit (SIGKILL after CHILD_GRACE_MS). */
function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), CHILD_GRACE_MS);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

/**
 * Calls `gone` once the process that started this one has exited (this one is then
 * handed to init or a subreaper, so its parent pid changes).
 */
function watchParent(gone: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    gone();
  }, 500);
  timer.unref();
}

/** What is running, so that a stop at any moment stops what has started so far. */
interface Running {
  central?: Central;
  /** In the order they stop: the simulator (the POS) first, then the companion. */
  readonly children: { readonly name: string; readonly process: ChildProcess }[];
}

async function main(): Promise<void> {
  const running: Running = { children: [] };
  let stopping = false;
  let started = false;
  let stopAsked: string | undefined;
  // Whoever reads our output may be gone (npm killed): a write that fails must not end the stack before it stops.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  const stop = (why: string) => {
    if (!started) {
      stopAsked ??= why; // central is still starting: stop once it is up
      return;
    }
    if (stopping) return;
    stopping = true;
    const log = running.central?.app.log;
    log?.info({ why }, 'stopping the local stack');
    (async () => {
      // The POS stops writing first (a sale under way commits or rolls back whole), then the
      // till's engine stops between its transactions, then central, with nothing left talking to it.
      for (const c of running.children) await stopChild(c.process);
      await running.central?.close();
    })().then(
      () => process.exit(0),
      (err: unknown) => {
        log?.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  watchParent(() => stop('the process that started the stack exited'));

  const dataDir = process.env.TILLSYNC_DATA_ROOT ?? './data';
  mkdirSync(dataDir, { recursive: true });
  const stackPath = join(dataDir, 'stack.json');
  const stack = readStackFile(stackPath);
  writeStackFile(stackPath, stack);

  const config = configFromEnv({
    ...process.env,
    TILLSYNC_DATA_DIR: process.env.TILLSYNC_DATA_DIR ?? join(dataDir, 'central'),
    TILLSYNC_ADMIN_TOKEN: process.env.TILLSYNC_ADMIN_TOKEN ?? stack.adminToken,
  });
  const central = await createCentral({ config });
  running.central = central;
  const log = central.app.log;
  const fleet = new FleetService(central.db, config.heartbeatIntervalSeconds);

  const store = await central.db.query('SELECT 1 FROM stores WHERE id = $1', [DEMO_STORE]);
  if (!store.rows[0]) await fleet.createStore({ id: DEMO_STORE, name: 'Demo store', code: 'DEMO', currency: 'EUR' });
  if (!stack.terminal || !(await fleet.find(stack.terminal.terminalId))) {
    const existing = await fleet.find(DEMO_TERMINAL);
    const terminalId = existing ? `${DEMO_TERMINAL}-${randomBytes(3).toString('hex')}` : DEMO_TERMINAL;
    const t = await fleet.createTerminal({ storeId: DEMO_STORE, terminalId, name: 'Demo till' });
    stack.terminal = { terminalId: t.terminalId, storeId: t.storeId, apiKey: t.apiKey };
    writeStackFile(stackPath, stack);
  }
  const seeded = await seedSampleData(central.db);
  const url = await central.listen();
  log.info(
    { url, apiDocs: `${url}/api-docs`, database: central.db.kind, terminalId: stack.terminal.terminalId, credentials: stackPath, seededProducts: seeded },
    'TillSync local stack is up',
  );
  const posPath = join(dataDir, 'demo-pos.db');
  const terminalEnv = {
    DATABASE_URL: `file:${posPath}`,
    CENTRAL_API_URL: url,
    CENTRAL_API_KEY: stack.terminal.apiKey,
    TERMINAL_ID: stack.terminal.terminalId,
    TILLSYNC_SYNC_INTERVAL: process.env.TILLSYNC_SYNC_INTERVAL ?? '30',
    TILLSYNC_HEARTBEAT_INTERVAL: process.env.TILLSYNC_HEARTBEAT_INTERVAL ?? '10',
  };
  // The POS database exists with its tables before the simulator (the "POS") and the
  // companion open it: the demo makes it (create), since nothing else ever does.
  openPosDatabase({ databasePath: posPath, terminalId: stack.terminal.terminalId, create: true }, log).close();
  // The demo till's engine runs inside the companion in web mode, so its UI opens in a browser.
  const uiToken = randomBytes(24).toString('base64url');
  const uiPort = process.env.TILLSYNC_UI_PORT ?? '4100';
  // The link (with its token) is printed once, in the banner below: not again by the companion.
  const agent = child(['ui', '--data-dir', join(dataDir, 'companion')], { ...terminalEnv, TILLSYNC_UI_TOKEN: uiToken, TILLSYNC_UI_PORT: uiPort }, (line) =>
    line.trim() === '' || line.includes(uiToken),
  );
  const uiUrl = `http://127.0.0.1:${uiPort}/?token=${uiToken}`;
  const simulator = child(['simulate', '--rate', process.env.TILLSYNC_DEMO_RATE ?? '0.5'], terminalEnv);
  running.children.push({ name: 'simulator', process: simulator }, { name: 'companion', process: agent });
  for (const { name, process: c } of running.children) {
    c.once('exit', (code, signal) => {
      if (!stopping) log.error({ process: name, code, signal }, `the ${name} stopped unexpectedly`);
    });
  }
  process.stdout.write(
    `\nTillSync local stack\n  central:   ${url}  (API docs: ${url}/api-docs, metrics: ${url}/metrics)\n  database:  ${central.db.kind} (${config.databaseUrl ? 'DATABASE_URL' : config.dataDir})\n  terminal:  ${stack.terminal.terminalId} in store ${DEMO_STORE}, POS database ${posPath}\n  companion: ${uiUrl}  (the till's sync engine and its UI, in web mode)\n  console:   ${url}/console  (HQ's fleet console: sign in with the admin token)\n  POS simulator running (sales every ${1 / Number(process.env.TILLSYNC_DEMO_RATE ?? '0.5')} s)\n  admin token and terminal key: ${stackPath}\n  stop with Ctrl-C\n\n`,
  );

  void openInBrowser(uiUrl, `http://127.0.0.1:${uiPort}/`).catch(() => undefined);

  started = true;
  if (stopAsked) stop(stopAsked);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `the local stack failed to start: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
