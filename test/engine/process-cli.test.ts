/**
 * The `tillsync` command as ops run it (`node bin/tillsync.mjs ...`): configuration
 * errors, settings that must never be guessed (a database that is not there, a key
 * central refuses, a database of another terminal), `status` on a new database, and
 * one-shot `sync`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/shared/catalog/index.js';
import { ApiClient, useCentral } from '../helpers/central.js';
import { startProxy, type PassThroughProxy } from '../helpers/engine.js';
import {
  addLocalStore,
  agentEnv,
  cleanEnv,
  freePort,
  killAll,
  newTerminalDb,
  openPos,
  openReader,
  outboxSummary,
  ringUpSales,
  runTillsync,
  startAgent,
  tempDir,
  waitUntil,
} from '../helpers/processes.js';
import { count, settled } from '../helpers/sync.js';

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('tillsync-cli-');
});
afterEach(killAll);
afterAll(() => dir?.remove());

/** The line of `stdout` that is the command's result (log lines carry a pino `level`). */
function resultLine(stdout: string): Record<string, unknown> {
  const lines = stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((j) => !('level' in j) && 'durationMs' in j);
  expect(lines, stdout).toHaveLength(1);
  return lines[0] as Record<string, unknown>;
}

describe('bad configuration', () => {
  const good = () => ({
    DATABASE_URL: `file:${join(dir.path, 'never-created.db')}`,
    CENTRAL_API_URL: 'http://127.0.0.1:4000',
    CENTRAL_API_KEY: 'tsk_0123456789abcdef',
    TERMINAL_ID: 'cli-t1',
  });
  const without = (key: string) => {
    const e: Record<string, string> = good();
    delete e[key];
    return e;
  };

  const cases: [string, string[], () => Record<string, string>, RegExp][] = [
    ['missing CENTRAL_API_URL', ['agent'], () => without('CENTRAL_API_URL'), /CENTRAL_API_URL/],
    ['missing CENTRAL_API_KEY and TERMINAL_ID (both named)', ['sync'], () => ({ ...without('CENTRAL_API_KEY'), TERMINAL_ID: '' }), /CENTRAL_API_KEY[\s\S]*TERMINAL_ID/],
    ['a malformed CENTRAL_API_URL', ['agent'], () => ({ ...good(), CENTRAL_API_URL: 'not a url' }), /CENTRAL_API_URL/],
    ['a CENTRAL_API_URL that is not http(s)', ['sync'], () => ({ ...good(), CENTRAL_API_URL: 'ftp://central.example/' }), /CENTRAL_API_URL/],
    ['a malformed --central-url flag (the flag wins over the environment)', ['agent', '--central-url', 'http//oops'], good, /CENTRAL_API_URL|--central-url/],
    ['a --batch-size that is not a number', ['agent', '--batch-size', 'lots'], good, /TILLSYNC_BATCH_SIZE|--batch-size/],
    ['a --batch-size of 0', ['sync', '--batch-size', '0'], good, /TILLSYNC_BATCH_SIZE|--batch-size/],
    ['a TILLSYNC_BATCH_SIZE above the limit', ['agent'], () => ({ ...good(), TILLSYNC_BATCH_SIZE: '999999' }), /TILLSYNC_BATCH_SIZE/],
    ['a bad cron expression', ['agent'], () => ({ ...good(), TILLSYNC_CRON: 'every now and then' }), /TILLSYNC_CRON|--cron/],
    ['a bad --cron flag', ['agent', '--cron', '99 * * * *'], good, /TILLSYNC_CRON|--cron/],
    ['a DATABASE_URL that is not a SQLite file', ['agent'], () => ({ ...good(), DATABASE_URL: 'postgres://localhost/pos' }), /DATABASE_URL/],
    ['an unknown flag', ['agent', '--bach-size', '20'], good, /bach-size/],
  ];

  it.each(cases)('%s: a clear message naming the setting, exit code 2, nothing touched', { timeout: 30_000 }, async (_what, args, env, names) => {
    const r = await runTillsync(args, cleanEnv(env()));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.stderr).toMatch(names);
    expect(r.stderr, 'a message, not a stack trace').not.toMatch(/^\s+at /m);
    expect(existsSync(join(dir.path, 'never-created.db')), 'no database created').toBe(false);
  });
});

describe('tillsync status', () => {
  it('--create on a new database prints every synced table with zero counts', { timeout: 30_000 }, async () => {
    const path = join(dir.path, 'fresh.db');
    const r = await runTillsync(['status', '--create', '--database', path], cleanEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/not initialized/);
    expect(r.stdout).toMatch(/never/);
    for (const e of CATALOG) expect(r.stdout, e.entityType).toMatch(new RegExp(`^${e.entityType}\\s+0\\s+0\\s+0\\s+0\\s*$`, 'm'));
    expect(r.stdout).toMatch(/^total\s+0\s+0\s+0\s+0\s*$/m);
    expect(r.stdout).toMatch(/open conflicts: 0/);

    const j = await runTillsync(['status', '--json'], cleanEnv({ DATABASE_URL: `file:${path}` }));
    expect(j.code, j.stderr).toBe(0);
    const status = JSON.parse(j.stdout) as { tables: Record<string, unknown>; totals: unknown; openConflicts: number; terminalId: unknown };
    expect(Object.keys(status.tables).sort()).toEqual(CATALOG.map((e) => e.entityType).sort());
    expect(status.totals).toEqual({ pending: 0, failed: 0, synced: 0, conflicts: 0 });
    expect(status.openConflicts).toBe(0);
    expect(status.terminalId).toBeNull();
  });
});

describe('tillsync sync', () => {
  const central = useCentral();

  it('--full exits 0 and prints the result JSON with pushed, pulled, conflicts, failed and durationMs', { timeout: 60_000 }, async () => {
    const t = await central.provision('cli-store', 'cli-t1');
    await central.db.query(`INSERT INTO products (id, sku, name, price) VALUES ('cli-p1', 'CLI-1', 'Tea', 2.5), ('cli-p2', 'CLI-2', 'Cake', 3)`);
    await settled(central);
    const path = await newTerminalDb(join(dir.path, 'sync.db'));
    const pos = openPos(path);
    const numbers = ringUpSales(pos, { storeLocalId: addLocalStore(pos, t.storeId), prefix: 'CLI', count: 2 });
    pos.close();
    const env = agentEnv({ databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn' });

    const r = await runTillsync(['sync', '--full'], env);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const result = resultLine(r.stdout);
    expect(result).toMatchObject({ kind: 'FULL', pushed: 6, conflicts: 0, failed: 0, errors: [] });
    expect(result.pulled).toBeGreaterThanOrEqual(2); // the two products (and the store rows)
    expect(typeof result.durationMs).toBe('number');
    expect(result.durationMs as number).toBeGreaterThanOrEqual(0);
    const orders = await central.db.query<{ order_number: string }>('SELECT order_number FROM orders WHERE store_id = $1 ORDER BY order_number', [t.storeId]);
    expect(orders.rows.map((o) => o.order_number)).toEqual(numbers);
    const reader = openReader(path);
    try {
      expect(outboxSummary(reader)).toMatchObject({ pending: 0, synced: 6 });
      expect(reader.prepare(`SELECT sku FROM products ORDER BY sku`).all()).toEqual([{ sku: 'CLI-1' }, { sku: 'CLI-2' }]);
    } finally {
      reader.close();
    }

    // Once more: nothing left to do, still exit 0.
    const again = await runTillsync(['sync'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(resultLine(again.stdout)).toMatchObject({ kind: 'INCREMENTAL', pushed: 0, failed: 0, errors: [] });
    expect(await count(central, 'orders WHERE store_id = $1', [t.storeId])).toBe(2);
  });

  it('exits 1 with the error in the result when central is unreachable, and keeps the sales pending', { timeout: 60_000 }, async () => {
    const t = await central.provision('cli-store', 'cli-t2');
    const path = await newTerminalDb(join(dir.path, 'unreachable.db'));
    const pos = openPos(path);
    ringUpSales(pos, { storeLocalId: addLocalStore(pos, t.storeId), prefix: 'CLIU', count: 1 });
    pos.close();
    const port = await freePort();
    const r = await runTillsync(['sync', '--full'], agentEnv({ databasePath: path, centralUrl: `http://127.0.0.1:${port}`, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn' }));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1);
    const result = resultLine(r.stdout);
    expect(result).toMatchObject({ kind: 'FULL', pushed: 0 });
    expect((result.errors as string[]).join('\n')).toMatch(/unreachable/);
    const reader = openReader(path);
    try {
      expect(outboxSummary(reader)).toMatchObject({ total: 3, pending: 3, failed: 0 });
    } finally {
      reader.close();
    }
  });
});

/**
 * stderr holds exactly one line, matching `re`: no stack trace, no JSON log line.
 * (The one-shot commands log to stderr; a setting problem is said once, plainly.)
 */
function oneLine(stderr: string, re: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(stderr, 'no JSON log line').not.toMatch(/^\s*\{/m);
}

describe('settings never guess', () => {
  const central = useCentral();
  let n = 0;
  const terminal = () => central.provision('guess-store', `guess-t${++n}`);
  /** A terminal database the POS already uses, with one sale waiting. */
  async function posDatabase(name: string, storeId: string): Promise<string> {
    const path = await newTerminalDb(join(dir.path, name));
    const pos = openPos(path);
    ringUpSales(pos, { storeLocalId: addLocalStore(pos, storeId), prefix: name, count: 1 });
    pos.close();
    return path;
  }
  const statusJson = async (path: string) => {
    const r = await runTillsync(['status', '--json', '--database', path], cleanEnv());
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { terminalId: string | null; totals: { pending: number; failed: number; synced: number } };
  };

  it.each([['agent'], ['sync'], ['status'], ['bootstrap']])(
    'a typo in the file name: `%s` creates nothing, says DATABASE_URL names no file (and how to make one), exit 2',
    { timeout: 30_000 },
    async (command) => {
      const t = await terminal();
      await posDatabase(`typo-${command}.db`, t.storeId);
      const typo = join(dir.path, `tpyo-${command}.db`);
      const r = await runTillsync([command], agentEnv({ databasePath: typo, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId }));
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
      oneLine(r.stderr, new RegExp(`^DATABASE_URL \\(--database\\): POS database ${typo} does not exist`));
      // bootstrap works on the POS's own database and never makes one, so it offers no --create.
      if (command === 'bootstrap') expect(r.stderr).not.toMatch(/--create/);
      else expect(r.stderr).toMatch(/pass --create to make a new POS database there/);
      expect(existsSync(typo), 'no database created').toBe(false);
      expect(readdirSync(dir.path).filter((f) => f.startsWith('tpyo-')), 'nor its -wal or -shm').toEqual([]);
      const heard = await central.admin.get('/api/terminals');
      expect(heard.body.terminals.find((x: { terminalId: string }) => x.terminalId === t.terminalId)?.status, 'central heard nothing').toBe('NEVER_SEEN');
    },
  );

  it('a missing folder: exit 2 naming DATABASE_URL and the folder, also with --create (which makes no folder)', { timeout: 30_000 }, async () => {
    const t = await terminal();
    const folder = join(dir.path, 'no-such-folder');
    const path = join(folder, 'pos.db');
    const env = agentEnv({ databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId });
    for (const args of [['sync'], ['sync', '--create'], ['agent', '--create'], ['status']]) {
      const r = await runTillsync(args, env);
      expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(2);
      oneLine(r.stderr, new RegExp(`^DATABASE_URL \\(--database\\): the folder ${folder} does not exist`));
      expect(existsSync(folder), 'no folder made').toBe(false);
    }
  });

  it('--create makes the new database, and sync pulls the store into it as this terminal', { timeout: 60_000 }, async () => {
    const t = await terminal();
    const path = join(dir.path, 'created.db');
    const r = await runTillsync(['sync', '--full', '--create'], agentEnv({ databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn' }));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(resultLine(r.stdout)).toMatchObject({ kind: 'FULL', errors: [] });
    expect(existsSync(path)).toBe(true);
    expect((await statusJson(path)).terminalId).toBe(t.terminalId);
    const reader = openReader(path);
    try {
      expect(reader.prepare('SELECT server_id FROM stores').all()).toEqual([{ server_id: t.storeId }]);
    } finally {
      reader.close();
    }
    // Once made, the database is simply there: the same command without --create works on it.
    const again = await runTillsync(['sync'], agentEnv({ databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn' }));
    expect(again.code, again.stderr).toBe(0);
  });

  it('a key central does not know: one line naming CENTRAL_API_KEY, exit 2, no stack trace; nothing sent, the database not bound', { timeout: 60_000 }, async () => {
    const t = await terminal();
    const path = await posDatabase('wrong-key.db', t.storeId);
    const env = agentEnv({ databasePath: path, centralUrl: central.url, apiKey: 'tsk_not-the-key-of-anyone', terminalId: t.terminalId });
    const line = new RegExp(`^CENTRAL_API_KEY \\(--api-key\\): central refused this key for terminal ${t.terminalId} \\(401 UNAUTHORIZED: unknown terminal key`);

    const sync = await runTillsync(['sync', '--full'], env);
    expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(2);
    oneLine(sync.stderr, line);
    expect(sync.stdout).toBe('');

    // The daemon too: such a key can never work, so it stops at once (its logs are on stdout).
    const agent = await runTillsync(['agent'], env);
    expect(agent.code, `${agent.stdout}\n${agent.stderr}`).toBe(2);
    oneLine(agent.stderr, line);

    const bootstrapped = await runTillsync(['bootstrap', '--push'], env);
    expect(bootstrapped.code, bootstrapped.stderr).toBe(2);
    oneLine(bootstrapped.stderr, line);

    const parity = await runTillsync(['parity'], env);
    expect(parity.code, parity.stderr).toBe(2);
    oneLine(parity.stderr, line);

    const s = await statusJson(path);
    expect(s.terminalId, 'not bound to the terminal').toBeNull();
    expect(s.totals).toMatchObject({ pending: 3, failed: 0, synced: 0 });
  });

  it("another terminal's key: one line naming CENTRAL_API_KEY and TERMINAL_ID, exit 2", { timeout: 30_000 }, async () => {
    const t = await terminal();
    const other = await terminal();
    const path = await posDatabase('other-key.db', t.storeId);
    const r = await runTillsync(['sync'], agentEnv({ databasePath: path, centralUrl: central.url, apiKey: other.apiKey, terminalId: t.terminalId }));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    oneLine(r.stderr, new RegExp(`^CENTRAL_API_KEY \\(--api-key\\) or TERMINAL_ID \\(--terminal-id\\): central refused this key for terminal ${t.terminalId} \\(403 WRONG_TERMINAL`));
    expect((await statusJson(path)).terminalId).toBeNull();
  });

  it('a terminal disabled at central: sync exits 2 naming TERMINAL_ID; the agent keeps running (it may be enabled again) and stops cleanly', { timeout: 60_000 }, async () => {
    const t = await terminal();
    const path = await posDatabase('disabled.db', t.storeId);
    expect((await central.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);
    const settings = { databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId };

    const r = await runTillsync(['sync'], agentEnv(settings));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    oneLine(r.stderr, new RegExp(`^TERMINAL_ID \\(--terminal-id\\): central refused terminal ${t.terminalId}, it is disabled there \\(403 TERMINAL_DISABLED`));

    const agent = startAgent(settings);
    await waitUntil('the agent to say central refuses it for now', () => agent.stdout().includes('central refuses this terminal for now'), { diagnose: () => agent.tail() });
    await waitUntil('the agent to start its engine', () => agent.stdout().includes('sync engine initialized'), { diagnose: () => agent.tail() });
    expect(agent.exit, agent.tail()).toBeUndefined();
    expect(await agent.stop()).toMatchObject({ code: 0 });
    expect(agent.stderr()).toBe('');
  });

  it('a key refused during sync (revoked after the start): exit 2, the refusal said last in one line, no stack trace; the sales stay pending', { timeout: 60_000 }, async () => {
    const t = await terminal();
    const path = await posDatabase('revoked.db', t.storeId);
    const probe = new ApiClient(central.url, t.apiKey);
    let proxy: PassThroughProxy | undefined;
    let revoked = false;
    try {
      // The key is taken at the start (the heartbeat); central forgets it before the pass's first request.
      proxy = await startProxy(central.url, async (req) => {
        if (revoked || req.path.startsWith('/api/sync/heartbeat')) return;
        revoked = true;
        await central.db.query(`UPDATE sync_terminals SET key_hash = 'revoked' WHERE id = $1`, [t.terminalId]);
        await waitUntil('central to refuse the revoked key', async () => (await probe.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE' })).status === 401);
      });
      const r = await runTillsync(['sync'], agentEnv({ databasePath: path, centralUrl: proxy.url, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn' }));
      expect(revoked).toBe(true);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines.at(-1)).toMatch(new RegExp(`^CENTRAL_API_KEY \\(--api-key\\): central refused this key for terminal ${t.terminalId} \\(401 UNAUTHORIZED`));
      expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
      expect(r.stderr, 'no stack in the log either').not.toMatch(/"stack"/);
      expect(resultLine(r.stdout).errors).toEqual(expect.arrayContaining([expect.stringMatching(/unknown terminal key/)]));
      const s = await statusJson(path);
      expect(s.totals).toMatchObject({ pending: 3, failed: 0, synced: 0 });
    } finally {
      await proxy?.close();
    }
  });

  it('a database of another terminal: one line naming TERMINAL_ID, exit 2, for status and sync alike; central hears nothing', { timeout: 60_000 }, async () => {
    const a = await terminal();
    const b = await terminal();
    const path = await posDatabase('owned.db', a.storeId);
    const asA = await runTillsync(['sync'], agentEnv({ databasePath: path, centralUrl: central.url, apiKey: a.apiKey, terminalId: a.terminalId }, { LOG_LEVEL: 'warn' }));
    expect(asA.code, asA.stderr).toBe(0);
    const line = new RegExp(`^TERMINAL_ID \\(--terminal-id\\): POS database ${path} belongs to terminal ${a.terminalId}, not ${b.terminalId}`);

    const status = await runTillsync(['status'], cleanEnv({ DATABASE_URL: `file:${path}`, TERMINAL_ID: b.terminalId }));
    expect(status.code, `${status.stdout}\n${status.stderr}`).toBe(2);
    oneLine(status.stderr, line);
    expect(status.stdout).toBe('');
    const flag = await runTillsync(['status', '--json', '--terminal-id', b.terminalId, '--database', path], cleanEnv());
    expect(flag.code, flag.stderr).toBe(2);
    oneLine(flag.stderr, line);

    for (const command of ['sync', 'agent']) {
      const r = await runTillsync([command], agentEnv({ databasePath: path, centralUrl: central.url, apiKey: b.apiKey, terminalId: b.terminalId }));
      expect(r.code, `${command}\n${r.stdout}\n${r.stderr}`).toBe(2);
      // The agent's logs go to stdout; sync logs to stderr, and says nothing before the refusal.
      oneLine(r.stderr, line);
    }
    const heard = await central.admin.get('/api/terminals');
    expect(heard.body.terminals.find((x: { terminalId: string }) => x.terminalId === b.terminalId)?.status, 'central heard nothing from it').toBe('NEVER_SEEN');

    // Without a terminal id, status still shows the database as it is.
    expect((await statusJson(path)).terminalId).toBe(a.terminalId);
  });
});
