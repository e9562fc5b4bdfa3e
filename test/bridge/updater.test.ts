/**
 * The companion's updater glue (src/main/updater.ts) with a real central serving a real
 * release and a real engine on a SQLite file: the updater object is a stand-in for
 * electron-updater's autoUpdater (UpdaterLike) whose check reads the feed with
 * electron-updater's own GenericProvider at the URL and with the headers the glue set,
 * whose download fetches and verifies the artifact, and whose install is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_VERSION_HEADER } from '../../src/shared/update-protocol.js';
import { readUpdateGate } from '../../src/main/sync/update-gate.js';
import { CompanionUpdater, updaterConfigFromEnv, type UpdaterLike, type UpdaterPorts } from '../../src/main/updater.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine, testLogger, type TerminalEngine } from '../helpers/engine.js';
import { localStoreId } from '../helpers/fleet.js';
import { ringUpSales } from '../helpers/processes.js';
import { buildRelease, feedProvider, setRollout, sha512, uploadRelease, type UpdateInfo } from '../helpers/updates.js';

const c = useCentral();
afterAll(closeAll);

/** Stands in for electron-updater's autoUpdater: its feed read by electron-updater's provider, its download a real fetch. */
class FakeUpdater implements UpdaterLike {
  autoDownload = true;
  autoInstallOnAppQuit = true;
  allowDowngrade = false;
  requestHeaders: Record<string, string> | null = null;
  feedUrl: string | undefined;
  readonly calls: string[] = [];
  downloadedBytes: Buffer | undefined;
  private info: UpdateInfo | undefined;

  setFeedURL(options: { provider: 'generic'; url: string }): void {
    this.feedUrl = options.url;
  }
  async checkForUpdates() {
    this.calls.push('check');
    const p = feedProvider(this.feedUrl ?? '');
    p.setRequestHeaders(this.requestHeaders ?? {});
    this.info = await p.getLatestVersion();
    return { updateInfo: this.info };
  }
  async downloadUpdate() {
    this.calls.push(`download ${this.info?.version}`);
    const [file] = feedProvider(this.feedUrl ?? '').resolveFiles(this.info as UpdateInfo);
    const r = await fetch(file?.url ?? '', { headers: this.requestHeaders ?? {} });
    const bytes = Buffer.from(await r.arrayBuffer());
    if (sha512(bytes) !== file?.info.sha512) throw new Error('sha512 mismatch');
    this.downloadedBytes = bytes;
    return [];
  }
  readonly listeners: string[] = [];
  on(event: 'error'): this {
    this.listeners.push(event);
    return this;
  }
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void {
    this.calls.push(`install ${this.info?.version} silent=${isSilent} run=${isForceRunAfter}`);
  }
}

let till: TerminalEngine;
const ports = (): UpdaterPorts => ({
  connection: () => ({ centralUrl: c.url, apiKey: till.terminal.apiKey }),
  gate: () => readUpdateGate(till.store.base),
  online: () => till.service.status().connection !== 'offline',
});
function updater(current: string, quietMs: number) {
  const fake = new FakeUpdater();
  const u = new CompanionUpdater({ createUpdater: () => fake, ports: ports(), currentVersion: current, config: { quietMs }, log: testLogger() });
  return { fake, u };
}

beforeAll(async () => {
  await uploadRelease(c.admin, buildRelease('1.0.0'));
  await uploadRelease(c.admin, buildRelease('1.1.0'));
  await setRollout(c.admin, { version: '1.1.0', previous: '1.0.0', percentage: 100 });
  till = await startEngine(c, { initialSync: true });
});

describe('the companion updater', () => {
  it("points electron-updater at central's feed with the terminal's key, downloads itself only on the decision, and installs at a quiet moment", async () => {
    const { fake, u } = updater('1.0.0', 0);
    const s = await u.check();
    expect(fake.feedUrl).toBe(`${c.url}/api/updates/feed`);
    expect(fake.requestHeaders).toEqual({ authorization: `Bearer ${till.terminal.apiKey}`, [APP_VERSION_HEADER]: '1.0.0' });
    expect(fake.autoDownload).toBe(false);
    expect(fake.listeners).toEqual(['error']);
    expect(fake.calls).toEqual(['check', 'download 1.1.0', 'install 1.1.0 silent=true run=true']);
    expect(fake.downloadedBytes?.length).toBeGreaterThan(2 * 1024 * 1024);
    expect(s).toMatchObject({ offered: '1.1.0', downloaded: '1.1.0', action: 'install-now' });
  });

  it('not quiet: installs when the app quits (autoInstallOnAppQuit, and installOnQuit)', async () => {
    const { fake, u } = updater('1.0.0', 3_600_000);
    ringUpSales(till.pos(), { storeLocalId: localStoreId(till), prefix: 'quiet', count: 1 });
    await till.service.pushCritical('test');
    expect((await u.check()).action).toBe('install-on-quit');
    expect(fake.autoInstallOnAppQuit).toBe(true);
    expect(fake.calls).toEqual(['check', 'download 1.1.0']);
    expect(u.installOnQuit()).toBe(true);
    expect(fake.calls.at(-1)).toBe('install 1.1.0 silent=true run=false');
  });

  it('holds the download and the install while completed sales are not at HQ, and goes on once they are', async () => {
    till.service.pause();
    ringUpSales(till.pos(), { storeLocalId: localStoreId(till), prefix: 'held', count: 2 });
    const { fake, u } = updater('1.0.0', 0);
    const held = await u.check();
    expect(held.action).toBe('hold');
    expect(held.reason).toMatch(/completed sale changes? not at HQ yet/);
    expect(fake.calls).toEqual(['check']);
    expect(fake.autoInstallOnAppQuit).toBe(false);
    expect(u.installOnQuit()).toBe(false);
    till.service.resume();
    await till.service.pushCritical('test');
    expect(readUpdateGate(till.store.base).criticalPending).toBe(0);
    expect((await u.check()).action).toBe('install-now');
    expect(fake.calls).toEqual(['check', 'check', 'download 1.1.0', 'install 1.1.0 silent=true run=true']);
  });

  it('a rollback installs the older version; a paused rollout offers an older one it does not take', async () => {
    await uploadRelease(c.admin, buildRelease('1.2.0'));
    await setRollout(c.admin, { version: '1.2.0', percentage: 100 });
    await setRollout(c.admin, { paused: true });
    const paused = updater('1.2.0', 0);
    expect(await paused.u.check()).toMatchObject({ offered: '1.1.0', action: 'none' });
    expect(paused.fake.calls).toEqual(['check']);
    await setRollout(c.admin, { paused: false });
    expect((await c.admin.post('/api/admin/updates/rollback')).status).toBe(200);
    const back = updater('1.2.0', 0);
    expect(await back.u.check()).toMatchObject({ offered: '1.1.0', action: 'install-now' });
    expect(back.fake.calls).toEqual(['check', 'download 1.1.0', 'install 1.1.0 silent=true run=true']);
  });

  it('up to date: nothing; the feed unreachable: an error state, never a throw', async () => {
    const same = updater('1.1.0', 0);
    expect((await same.u.check()).action).toBe('none');
    expect(same.fake.calls).toEqual(['check']);
    const fake = new FakeUpdater();
    const down = new CompanionUpdater({ createUpdater: () => fake, ports: { ...ports(), connection: () => ({ centralUrl: 'http://127.0.0.1:9', apiKey: 'x' }) }, currentVersion: '1.0.0', log: testLogger() });
    expect((await down.check()).action).toBe('error');
    expect(updaterConfigFromEnv({ TILLSYNC_UPDATE_CHECK_MINUTES: '45' }).intervalMs).toBe(45 * 60_000);
    expect(updaterConfigFromEnv({ TILLSYNC_UPDATES: 'off' }).enabled).toBe(false);
    expect(() => updaterConfigFromEnv({ TILLSYNC_UPDATE_CHECK_MINUTES: 'soon' })).toThrow(/TILLSYNC_UPDATE_CHECK_MINUTES/);
  });
});
