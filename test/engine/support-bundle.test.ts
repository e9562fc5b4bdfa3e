/**
 * `tillsync support-bundle` as ops run it, a separate process against a real central,
 * whose archive is opened with the system's tar and checked file by file.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SupportBundleManifest } from '../../src/main/sync/support-bundle-manifest.js';
import { REDACTED } from '../../src/main/sync/support-bundle-redact.js';
import { ADMIN_TOKEN, useCentral } from '../helpers/central.js';
import { addLocalStore, agentEnv, freePort, killAll, newTerminalDb, openPos, openReader, outboxSummary, ringUpSales, runTillsync, tempDir } from '../helpers/processes.js';

const KEY = 'tsk_Planted0Secret0Key0For0The0Bundle0Test00';

// ------------------------------------------------------------------ the command, as a process

/** Every file under `root`, as paths relative to it. */
function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

/** Extracts an archive with the system's tar; returns the bundle's folder and its manifest (zod-checked). */
function extract(archive: string, into: string): { folder: string; manifest: SupportBundleManifest } {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', archive, '-C', into]);
  const [folder, ...more] = readdirSync(into);
  expect(more).toEqual([]);
  const root = join(into, folder as string);
  return { folder: root, manifest: SupportBundleManifest.parse(JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'))) };
}

const readJson = (folder: string, name: string) => JSON.parse(readFileSync(join(folder, name), 'utf8')) as Record<string, any>;

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('tillsync-bundle-');
});
afterEach(killAll);
afterAll(() => dir?.remove());

describe('tillsync support-bundle', () => {
  const central = useCentral();

  it('writes a valid archive whose manifest lists its files, whose status is the till\'s, and with no secret in any file', { timeout: 90_000 }, async () => {
    const t = await central.provision('bundle-store', 'bundle-t1');
    const path = await newTerminalDb(join(dir.path, 'till.db'));
    const pos = openPos(path);
    const storeLocalId = addLocalStore(pos, t.storeId);
    ringUpSales(pos, { storeLocalId, prefix: 'ON', count: 2 });
    const env = agentEnv({ databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId }, { LOG_LEVEL: 'warn', TILLSYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    const synced = await runTillsync(['sync', '--full'], env);
    expect(synced.code, synced.stderr).toBe(0);
    // Then offline (no engine running): three more sales wait on the till.
    ringUpSales(pos, { storeLocalId, prefix: 'OFF', count: 3 });
    pos.close();
    const reader = openReader(path);
    const waiting = outboxSummary(reader);
    reader.close();
    expect(waiting).toMatchObject({ pending: 9, synced: 6 });

    // The key planted in a log line, in a URL of a log line, and URL-encoded.
    const log = join(dir.path, 'agent.log');
    writeFileSync(
      log,
      [
        JSON.stringify({ level: 30, msg: 'agent started', centralUrl: `${central.url}/?key=${t.apiKey}`, adminToken: ADMIN_TOKEN }),
        `plain text line: the key is ${t.apiKey} (sent as Authorization: Bearer ${t.apiKey})`,
        `GET ${central.url}/api/sync/status?terminalId=${t.terminalId}&next=${encodeURIComponent(`/x?token=${t.apiKey}`)}`,
        JSON.stringify({ level: 50, msg: 'sync failed', err: { message: `refused ${t.apiKey}` } }),
        '',
      ].join('\n'),
    );
    const out = join(dir.path, 'bundle.tar.gz');
    const r = await runTillsync(['support-bundle', '--out', out, '--logs', log], env);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`wrote ${out}`);

    const { folder, manifest } = extract(out, join(dir.path, 'x1'));
    expect(manifest).toMatchObject({ format: 'tillsync-support-bundle', source: 'cli', terminalId: t.terminalId, problems: [] });
    // The manifest lists exactly the files the archive holds, with their sizes and digests.
    const names = manifest.files.map((f) => f.name);
    expect(names).toEqual(['status.json', 'settings.json', 'outbox.json', 'versions.json', 'history.json', 'parity.json', 'logs/agent.log']);
    expect(filesUnder(folder)).toEqual([...names, 'manifest.json'].sort());
    for (const f of manifest.files) {
      const data = readFileSync(join(folder, f.name));
      expect(data.length, f.name).toBe(f.bytes);
      expect(createHash('sha256').update(data).digest('hex'), f.name).toBe(f.sha256);
    }
    expect(manifest.logs.included).toEqual(['logs/agent.log']);

    // The contents are the till's own.
    const status = readJson(folder, 'status.json');
    expect(status.status.terminalId).toBe(t.terminalId);
    expect(status.status.totals).toMatchObject({ pending: 9, synced: 6, failed: 0 });
    expect(status.status.oldestPendingAt).toEqual(expect.any(String));
    const cliStatus = await runTillsync(['status', '--json'], env);
    expect(status.status.totals).toEqual(JSON.parse(cliStatus.stdout).totals);
    const outbox = readJson(folder, 'outbox.json');
    expect(outbox.totals).toMatchObject({ synced: 6 });
    expect((outbox.totals.pending ?? 0) + (outbox.totals.captured ?? 0)).toBe(9);
    expect(outbox.tables.orders).toBeDefined();
    expect(readJson(folder, 'history.json')).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'FULL', pushed: 6 })]));
    expect(readJson(folder, 'parity.json').summary).toMatchObject({ ok: true });
    const versions = readJson(folder, 'versions.json');
    expect(versions).toMatchObject({ node: process.versions.node, sqlite: expect.stringMatching(/^3\./), betterSqlite3: expect.any(String) });
    expect(versions.schema.migrations.applied).toBeGreaterThan(0);
    expect(readJson(folder, 'settings.json').settings).toMatchObject({ apiKey: REDACTED, terminalId: t.terminalId, centralUrl: central.url });
    expect(readJson(folder, 'settings.json').environment).toMatchObject({ CENTRAL_API_KEY: REDACTED, TILLSYNC_ADMIN_TOKEN: REDACTED });
    expect(readFileSync(join(folder, 'logs/agent.log'), 'utf8')).toContain('plain text line: the key is [REDACTED]');

    // No secret anywhere: every file of the archive, and the archive itself uncompressed.
    const forbidden = [t.apiKey, t.apiKey.slice(4), encodeURIComponent(t.apiKey), ADMIN_TOKEN];
    for (const f of filesUnder(folder)) {
      const text = readFileSync(join(folder, f), 'utf8');
      for (const s of forbidden) expect(text.includes(s), `${s} in ${f}`).toBe(false);
    }
    const raw = execFileSync('tar', ['-xzOf', out]).toString('utf8');
    for (const s of forbidden) expect(raw.includes(s)).toBe(false);
  });

  it('central unreachable: the bundle is still written, with the parity error in its manifest', { timeout: 60_000 }, async () => {
    const t = await central.provision('bundle-store', 'bundle-t2');
    const path = await newTerminalDb(join(dir.path, 'offline.db'));
    const port = await freePort();
    const out = join(dir.path, 'offline.tar.gz');
    const r = await runTillsync(['support-bundle', '--out', out], agentEnv({ databasePath: path, centralUrl: `http://127.0.0.1:${port}`, apiKey: t.apiKey, terminalId: t.terminalId }));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/not collected: parity\.json: .*unreachable/);
    const { folder, manifest } = extract(out, join(dir.path, 'x2'));
    expect(manifest.problems).toEqual([{ section: 'parity.json', message: expect.stringMatching(/unreachable/) }]);
    expect(readJson(folder, 'parity.json').error).toMatch(/unreachable/);
    expect(manifest.logs).toMatchObject({ included: [], note: expect.stringMatching(/standard output/) });
    expect(readJson(folder, 'status.json').status.terminalId).toBe(t.terminalId);
  });

  it('never overwrites without --force, and names what is wrong with a bad path (exit 2)', { timeout: 60_000 }, async () => {
    const path = await newTerminalDb(join(dir.path, 'paths.db'));
    const env = agentEnv({ databasePath: path, centralUrl: 'http://127.0.0.1:9', apiKey: KEY, terminalId: 'paths-t' });
    const out = join(dir.path, 'exists.tar.gz');
    writeFileSync(out, 'keep me');
    const refused = await runTillsync(['support-bundle', '--out', out], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already exists.*--force/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const forced = await runTillsync(['support-bundle', '--out', out, '--force'], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(extract(out, join(dir.path, 'x3')).manifest.files.length).toBe(6);

    const noFolder = await runTillsync(['support-bundle', '--out', join(dir.path, 'missing', 'b.tar.gz')], env);
    expect(noFolder.code).toBe(2);
    expect(noFolder.stderr).toMatch(/--out: the folder .*missing does not exist/);
    const aFolder = await runTillsync(['support-bundle', '--out', dir.path], env);
    expect(aFolder.code).toBe(2);
    expect(aFolder.stderr).toMatch(/is a folder; give a file name/);
    const noOut = await runTillsync(['support-bundle'], env);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out/);
    expect(existsSync(join(dir.path, 'missing'))).toBe(false);
  });
});
