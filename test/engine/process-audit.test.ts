/**
 * `tillsync audit` as ops run it, in its own process (`node bin/tillsync.mjs audit`):
 * in step after a sync (exit 0), the differing row printed after central changed it
 * behind sync's back (exit 3), `--json`, `--table`, an unknown table (exit 2) and an
 * unreachable central (exit 1).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditReport } from '../../src/shared/audit-protocol.js';
import { useCentral } from '../helpers/central.js';
import { agentEnv, DEAD_CENTRAL_URL, killAll, runTillsync, tempDir } from '../helpers/processes.js';
import { settled } from '../helpers/sync.js';

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('tillsync-audit-cli-');
});
afterEach(killAll);
afterAll(() => dir?.remove());

describe('tillsync audit (a separate process)', () => {
  const central = useCentral();

  it('says in step (exit 0), then prints the row changed behind sync (exit 3); --json, --table, bad table and no central', { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8);
    const ids = [1, 2, 3].map((i) => `cli-aud-${tag}-${i}`);
    for (const id of ids) await central.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $1, 'Tea', 2.5)`, [id]);
    const t = await central.provision(`cli-audit-${tag}`);
    const path = join(dir.path, `audit-${tag}.db`);
    const env = agentEnv({ databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn' });
    await settled(central);
    const sync = await runTillsync(['sync', '--full', '--create'], env);
    expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(0);

    const ok = await runTillsync(['audit'], env);
    expect(ok.code, `${ok.stdout}\n${ok.stderr}`).toBe(0);
    expect(ok.stdout).toMatch(/^products +in step \(\d+ rows?\)$/m);
    expect(ok.stdout).toMatch(/^not compared: orders, .*direction up/m);
    expect(ok.stdout.trim().split('\n').at(-1)).toBe('in step');

    const json = await runTillsync(['audit', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const report = AuditReport.parse(JSON.parse(json.stdout));
    expect(report).toMatchObject({ terminalId: t.terminalId, inStep: true });
    expect(report.tables.find((x) => x.table === 'products')).toMatchObject({ outcome: 'in_step', requests: 1 });

    // Central changes a price with its triggers off: no version bump, no change log, the till never hears of it.
    await central.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query('UPDATE products SET price = 9 WHERE id = $1', [ids[1]]);
    });
    const bad = await runTillsync(['audit', '--table', 'products'], env);
    expect(bad.code, `${bad.stdout}\n${bad.stderr}`).toBe(3);
    expect(bad.stdout).toMatch(/^products +1 row differs/m);
    expect(bad.stdout).toMatch(new RegExp(`^  different content +${ids[1]}  \\(till v1, central v1\\)$`, 'm'));
    expect(bad.stdout.trim().split('\n').at(-1)).toBe('NOT in step: 1 row differs in 1 table');
    expect(bad.stdout).not.toMatch(/^customers/m);

    const unknown = await runTillsync(['audit', '--table', 'nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^--table: unknown table nope; tables: stores, /);

    const down = await runTillsync(['audit'], { ...env, CENTRAL_API_URL: DEAD_CENTRAL_URL });
    expect(down.code, `${down.stdout}\n${down.stderr}`).toBe(1);
    expect(down.stderr).toMatch(/^tillsync audit: central http:\/\/127.0.0.1:\d+ unreachable: .*; nothing was compared$/m);
  });
});
