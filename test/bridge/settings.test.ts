import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineHost } from '../../src/main/bridge/engine-host.js';
import { SettingsError, SettingsStore } from '../../src/main/settings.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine } from '../helpers/engine.js';

const dir = mkdtempSync(join(tmpdir(), 'tillsync-settings-'));
const fs = { existsSync, readFileSync, writeFileSync, renameSync };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('settings file', () => {
  it('defaults, validated changes saved owner-only, and the PIN kept only as a hash', () => {
    const path = join(dir, 's1.json');
    const s = new SettingsStore(path, fs);
    expect(s.view(false)).toEqual({ syncInterval: 300, autoStart: true, hasPin: false, hasKey: false });
    const { apiKey } = s.update({ centralUrl: 'http://hq.example:4000', terminalId: 'till-7', syncInterval: 60, supervisorPin: '4321', apiKey: 'tsk_abcdefgh' });
    expect(apiKey).toBe('tsk_abcdefgh');
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('4321');
    expect(text).not.toContain('tsk_abcdefgh');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(s.verifyPin('4321')).toBe(true);
    expect(s.verifyPin('1234')).toBe(false);
    const again = new SettingsStore(path, fs);
    expect(again.view(true)).toEqual({ centralUrl: 'http://hq.example:4000', terminalId: 'till-7', syncInterval: 60, autoStart: true, hasPin: true, hasKey: true });
  });

  it('a bad value is refused with the field named, and the file is unchanged', () => {
    const path = join(dir, 's2.json');
    const s = new SettingsStore(path, fs);
    s.update({ syncInterval: 120 });
    const before = readFileSync(path, 'utf8');
    for (const [patch, field] of [
      [{ centralUrl: 'ftp://x' }, 'centralUrl'],
      [{ syncInterval: 2 }, 'syncInterval'],
      [{ supervisorPin: '12' }, 'supervisorPin'],
      [{ terminalId: 'bad id!' }, 'terminalId'],
      [{ cron: 'every tuesday' }, 'cron'],
      [{ colour: 'red' }, 'colour'],
    ] as const) {
      expect(() => s.update(patch)).toThrow(SettingsError);
      expect(() => s.update(patch)).toThrow(new RegExp(field));
      expect(readFileSync(path, 'utf8')).toBe(before);
    }
  });

  it('a corrupt settings file is a clear error naming the file', () => {
    const path = join(dir, 's3.json');
    writeFileSync(path, '{ nope');
    expect(() => new SettingsStore(path, fs)).toThrow(/s3\.json is not valid JSON/);
  });
});

describe('settings and PIN through the bridge', () => {
  const c = useCentral();
  afterAll(closeAll);

  it('settings:set validates through the contract, settings:get never shows the key or PIN', async () => {
    const e = await startEngine(c);
    const store = new SettingsStore(join(dir, 's4.json'), fs);
    let key: string | undefined;
    const host = new EngineHost(e.service, {
      pin: { verify: (p) => store.verifyPin(p) },
      settings: {
        get: () => store.view(key !== undefined),
        set: async (patch) => {
          key = store.update(patch).apiKey ?? key;
          return store.view(key !== undefined);
        },
      },
    });
    const set = await host.invoke('settings:set', [{ supervisorPin: '8642', apiKey: 'tsk_zzzzzzzz', syncInterval: 45 }]);
    expect(set).toEqual({ ok: true, value: { syncInterval: 45, autoStart: true, hasPin: true, hasKey: true } });
    expect(JSON.stringify(await host.invoke('settings:get', []))).not.toMatch(/8642|tsk_zzzz|scrypt/);
    expect(await host.invoke('settings:set', [{ syncInterval: 1 }])).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });
    expect(await host.invoke('settings:set', [{ cron: 'not a cron' }])).toMatchObject({ ok: false, error: { code: 'INVALID_SETTINGS' } });
    expect((await host.invoke('settings:get', [])).ok && true).toBe(true);
    // The PIN set here is the one conflict:resolve asks for.
    expect(await host.invoke('conflict:resolve', [{ conflictId: 'none', resolution: 'CENTRAL_WINS', pin: '0000' }])).toMatchObject({ ok: false, error: { code: 'WRONG_PIN' } });
    expect(await host.invoke('conflict:resolve', [{ conflictId: 'none', resolution: 'CENTRAL_WINS', pin: '8642' }])).toMatchObject({ ok: false, error: { code: 'FAILED', message: expect.stringContaining('no open conflict') } });
  });
});
