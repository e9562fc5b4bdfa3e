/**
 * The `tillsync` command as ops run it (`node bin/tillsync.mjs ...`): configuration
 * errors, `status` on a fresh database, and one-shot `sync`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/shared/catalog/index.js';
import { useCentral } from '../helpers/central.js';
import { addLocalStore, agentEnv, cleanEnv, freePort, killAll, newTerminalDb, openPos, openReader, outboxSummary, ringUpSales, runTillsync, tempDir } from '../helpers/processes.js';
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
  it('on a fresh database prints every synced table with zero counts', { timeout: 30_000 }, async () => {
    const path = join(dir.path, 'fresh.db');
    const r = await runTillsync(['status', '--database', path], cleanEnv());
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
