/**
 * Companion updates from HQ over real HTTP, on PGlite or PostgreSQL: an admin uploads
 * a release (latest.yml and the artifact it names, streamed into 1 MiB chunks, sha512
 * checked), stages it per store and by percentage, pauses and rolls back; each till
 * reads its own feed with electron-updater's own GenericProvider (it runs without
 * Electron: only its HTTP executor is Electron's, replaced here by one over node:http).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEED_TARGET_FIELD, Release, Rollout } from '../../src/shared/update-protocol.js';
import { rolloutBucket } from '../../src/server/updates/target.js';
import { startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { buildRelease as build, feedProvider, putFile, readFeed, setRollout, sha512, uploadRelease, type UpdateInfo } from '../helpers/updates.js';

const MAX_BYTES = 3 * 1024 * 1024;
let tdb: TestDatabase;
let c: TestCentral;
beforeAll(async () => {
  tdb = await testDatabase();
  c = await startCentral({ db: tdb.db, config: { updateMaxBytes: MAX_BYTES } });
});
afterAll(async () => {
  await c?.close();
  await tdb?.close();
});

const uid = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;
const put = (path: string, body: Uint8Array | string, token = c.admin.token, type?: string) => putFile(c.admin, path, body, token, type);
const upload = (r: ReturnType<typeof build>) => uploadRelease(c.admin, r);
const rollout = (patch: object) => setRollout(c.admin, patch);
const feed = (t: ProvisionedTerminal, running = '1.0.0'): Promise<UpdateInfo> => readFeed(c.url, t.apiKey, running);

async function chunkRows(): Promise<number> {
  const r = await c.db.query<{ n: string }>('SELECT count(*)::text AS n FROM sync_release_chunks');
  return Number(r.rows[0]?.n);
}

async function terminalsIn(storeId: string, n: number): Promise<ProvisionedTerminal[]> {
  const out: ProvisionedTerminal[] = [];
  for (let i = 0; i < n; i++) out.push(await c.provision(storeId, uid(`${storeId}-t`)));
  return out;
}

describe('uploading a release (admin)', () => {
  it('stores latest.yml and its artifacts in 1 MiB chunks; the admin lists them with nothing missing', async () => {
    const before = await chunkRows();
    const r = build('1.0.0');
    await upload(r);
    const list = await c.admin.get('/api/admin/updates/releases');
    expect(list.status).toBe(200);
    const rel = Release.array().parse(list.body.releases).find((x) => x.version === '1.0.0');
    expect(rel?.missing).toEqual({ 'latest.yml': [] });
    expect(rel?.files.find((f) => f.name === r.name)).toMatchObject({ size: r.exe.length, sha512: sha512(r.exe), channel: false });
    // 2 MiB + a bit: three chunks; blockmap and latest.yml one each.
    expect((await chunkRows()) - before).toBe(5);
  });

  it('refuses an artifact whose sha512 is not the one latest.yml gives it, and keeps the file it had', async () => {
    const before = await chunkRows();
    const r = build('1.0.1');
    expect((await c.admin.post('/api/admin/updates/releases', { version: r.version })).status).toBe(201);
    expect((await put(`/api/admin/updates/releases/1.0.1/files/latest.yml`, r.yml)).status).toBe(201);
    const bad = await put(`/api/admin/updates/releases/1.0.1/files/${r.name}`, Buffer.concat([r.exe.subarray(1), Buffer.from('x')]));
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe('SHA512_MISMATCH');
    expect((await chunkRows()) - before).toBe(1); // only latest.yml's chunk: the refused upload left nothing
    // The other order: the artifact first, then a latest.yml giving it another sha512.
    const s = build('1.0.2');
    expect((await c.admin.post('/api/admin/updates/releases', { version: s.version })).status).toBe(201);
    expect((await put(`/api/admin/updates/releases/1.0.2/files/${s.name}`, s.exe)).status).toBe(201);
    const wrong = await put(`/api/admin/updates/releases/1.0.2/files/latest.yml`, build('1.0.2').yml);
    expect(wrong.status).toBe(400);
    expect((await wrong.json()).code).toBe('SHA512_MISMATCH');
    const rel = Release.parse((await c.admin.get('/api/admin/updates/releases')).body.releases.find((x: { version: string }) => x.version === '1.0.2'));
    expect(rel.files.map((f) => f.name)).toEqual([s.name]);
    // A latest.yml of another version.
    const other = await put(`/api/admin/updates/releases/1.0.2/files/latest.yml`, build('9.9.9').yml);
    expect(other.status).toBe(400);
    expect((await other.json()).code).toBe('VERSION_MISMATCH');
    const garbage = await put(`/api/admin/updates/releases/1.0.2/files/latest.yml`, 'version: [1, 2');
    expect((await garbage.json()).code).toBe('INVALID_CHANNEL_FILE');
  });

  it('refuses a file over the size limit, by Content-Length or while streaming, leaving no chunk behind', async () => {
    expect((await c.admin.post('/api/admin/updates/releases', { version: '1.0.3' })).status).toBe(201);
    const before = await chunkRows();
    const big = await put('/api/admin/updates/releases/1.0.3/files/big.exe', randomBytes(MAX_BYTES + 1));
    expect(big.status).toBe(413);
    expect((await big.json()).code).toBe('FILE_TOO_LARGE');
    // Chunked (no Content-Length): counted as it streams.
    const chunks = [randomBytes(2 * 1024 * 1024), randomBytes(2 * 1024 * 1024)];
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        const next = chunks.shift();
        if (next) ctl.enqueue(next);
        else ctl.close();
      },
    });
    const streamed = await fetch(`${c.url}/api/admin/updates/releases/1.0.3/files/big.exe`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${c.admin.token}`, 'content-type': 'application/octet-stream' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await chunkRows()).toBe(before);
    const rel = Release.parse((await c.admin.get('/api/admin/updates/releases')).body.releases.find((x: { version: string }) => x.version === '1.0.3'));
    expect(rel.files).toEqual([]);
  });

  it('refuses bad names and versions, another content type, an unknown release, and anyone but the admin', async () => {
    // Longer than the router takes (100): 414 before the route.
    expect((await put(`/api/admin/updates/releases/1.0.0/files/${'a'.repeat(201)}`, 'x')).status).toBe(414);
    for (const name of ['.hidden', 'a..b', '%2E%2E%2Fetc', 'a%2Fb', 'x%00y', 'trailing.']) {
      const r = await put(`/api/admin/updates/releases/1.0.0/files/${name}`, 'x');
      expect(r.status, name).toBe(400);
      expect((await r.json()).code, name).toBe('VALIDATION_ERROR');
    }
    expect((await put('/api/admin/updates/releases/v1/files/latest.yml', 'x')).status).toBe(400);
    expect((await c.admin.post('/api/admin/updates/releases', { version: '1.0' })).status).toBe(400);
    expect((await c.admin.post('/api/admin/updates/releases', { version: '1.0.0' })).status).toBe(409);
    const json = await put('/api/admin/updates/releases/1.0.0/files/x.exe', '{}', c.admin.token, 'application/json');
    expect(json.status).toBe(415);
    const unknown = await put('/api/admin/updates/releases/7.7.7/files/x.exe', 'x');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).code).toBe('UNKNOWN_RELEASE');
    const t = await c.provision('store-auth');
    const asTill = await put('/api/admin/updates/releases/1.0.0/files/latest.yml', build('1.0.0').yml, t.apiKey);
    expect(asTill.status).toBe(403);
    expect((await put('/api/admin/updates/releases/1.0.0/files/latest.yml', 'x', 'nobody-at-all')).status).toBe(401);
    expect((await t.api.post('/api/admin/updates/releases', { version: '5.0.0' })).status).toBe(403);
    expect((await t.api.patch('/api/admin/updates/rollout', { version: '1.0.0' })).status).toBe(403);
    expect((await t.api.post('/api/admin/updates/rollback')).status).toBe(403);
    expect((await t.api.get('/api/admin/updates/rollout')).status).toBe(403);
    // The feed is a terminal's.
    expect((await c.admin.get('/api/updates/feed/latest.yml')).status).toBe(403);
    expect((await fetch(`${c.url}/api/updates/feed/latest.yml`)).status).toBe(401);
    // A release whose files are not all there cannot be rolled out.
    const notReady = await c.admin.patch('/api/admin/updates/rollout', { version: '1.0.1' });
    expect(notReady.status).toBe(409);
    expect(notReady.body.code).toBe('RELEASE_NOT_READY');
    expect((await c.admin.patch('/api/admin/updates/rollout', { version: '8.8.8' })).status).toBe(404);
  });
});

describe("a till's feed", () => {
  it('offers nothing before a rollout: its own version (electron-updater: no update), or 404 without it', async () => {
    const t = await c.provision('store-none');
    expect((await feed(t, '1.0.0')).version).toBe('1.0.0');
    const r = await t.api.get('/api/updates/feed/latest.yml');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('NO_UPDATE');
  });

  it("serves the target's latest.yml, without electron-updater's own staging; its artifact downloads whole and by range", async () => {
    const r2 = build('1.1.0');
    await upload(r2);
    await rollout({ version: '1.1.0', previous: '1.0.0', percentage: 100 });
    const t = await c.provision('store-full');
    const info = await feed(t);
    expect(info.version).toBe('1.1.0');
    expect(info.stagingPercentage).toBeUndefined();
    // A string, as electron-builder wrote it (electron-updater's YAML reader takes an unquoted date for a Date).
    expect((info as unknown as { releaseDate: unknown }).releaseDate).toBe('2026-12-06T10:00:00.000Z');
    expect(info[FEED_TARGET_FIELD]).toEqual({ allowDowngrade: false, reason: 'ROLLOUT' });
    // electron-updater resolves the files against the feed URL, as it would download them.
    const [file] = feedProvider(`${c.url}/api/updates/feed`).resolveFiles(info);
    expect(file?.url.pathname).toBe(`/api/updates/feed/1.1.0/${r2.name}`);
    const auth = { authorization: `Bearer ${t.apiKey}` };
    const whole = await fetch(file?.url ?? '', { headers: auth });
    expect(whole.status).toBe(200);
    const bytes = Buffer.from(await whole.arrayBuffer());
    expect(sha512(bytes)).toBe(file?.info.sha512);
    expect(bytes.length).toBe(file?.info.size);
    // A range across a chunk boundary, an open-ended one, a suffix, an impossible one.
    const mib = 1024 * 1024;
    const part = await fetch(file?.url ?? '', { headers: { ...auth, range: `bytes=${mib - 10}-${mib + 9}` } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${mib - 10}-${mib + 9}/${r2.exe.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(r2.exe.subarray(mib - 10, mib + 10))).toBe(true);
    const tail = await fetch(file?.url ?? '', { headers: { ...auth, range: 'bytes=-100' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(r2.exe.subarray(r2.exe.length - 100))).toBe(true);
    const from = await fetch(file?.url ?? '', { headers: { ...auth, range: `bytes=${2 * mib}-` } });
    expect(Buffer.from(await from.arrayBuffer()).equals(r2.exe.subarray(2 * mib))).toBe(true);
    expect((await fetch(file?.url ?? '', { headers: { ...auth, range: `bytes=${r2.exe.length}-` } })).status).toBe(416);
    // Several ranges, or one that is not valid: the whole file (electron-updater then downloads it whole).
    for (const range of ['bytes=0-0,5-9', 'bytes=9-2', 'bytes=abc']) expect((await fetch(file?.url ?? '', { headers: { ...auth, range } })).status, range).toBe(200);
    // The blockmap of the old version, where electron-updater looks for it (the version replaced in the URL), and by name alone.
    const oldMap = await fetch(`${c.url}/api/updates/feed/1.0.0/TillSync-Setup-1.0.0.exe.blockmap`, { headers: auth });
    expect(oldMap.status).toBe(200);
    expect((await fetch(`${c.url}/api/updates/feed/${r2.name}`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${c.url}/api/updates/feed/1.1.0/nothing.exe`, { headers: auth })).status).toBe(404);
    // No channel file for macOS in this release: the Mac till is told its own version.
    expect((await readFeed(c.url, t.apiKey, '1.0.0', 'darwin')).version).toBe('1.0.0');
  });

  it('a percentage rollout: the tills in are those whose bucket is below it, stable, and only more join as it grows', async () => {
    await upload(build('1.2.0'));
    const tills = await terminalsIn(uid('store-pct'), 12);
    const offered = async () => Promise.all(tills.map(async (t) => (await feed(t)).version));
    let inBefore = new Set<string>();
    for (const pct of [0, 25, 50, 75, 100]) {
      await rollout(pct === 0 ? { version: '1.2.0', previous: '1.1.0', percentage: 0 } : { percentage: pct });
      const got = await offered();
      const inNow = new Set(tills.filter((_, i) => got[i] === '1.2.0').map((t) => t.terminalId));
      for (const [i, t] of tills.entries()) expect(got[i], `${t.terminalId} at ${pct}%`).toBe(rolloutBucket(t.terminalId) < pct ? '1.2.0' : '1.1.0');
      for (const id of inBefore) expect(inNow.has(id), `${id} left the rollout at ${pct}%`).toBe(true);
      expect(await offered()).toEqual(got); // asked again: the same answer
      inBefore = inNow;
    }
    expect(inBefore.size).toBe(12);
  });

  it("pins a store to a version (an older one included); another store's till sees its own target", async () => {
    const pinned = uid('store-pin');
    const [a] = await terminalsIn(pinned, 1);
    const [b] = await terminalsIn(uid('store-other'), 1);
    if (!a || !b) throw new Error('no tills');
    await rollout({ percentage: 100, stores: { [pinned]: '1.0.0' } });
    const ia = await feed(a, '1.2.0');
    expect(ia.version).toBe('1.0.0');
    expect(ia[FEED_TARGET_FIELD]).toEqual({ allowDowngrade: true, reason: 'STORE_PIN' });
    expect((await feed(b)).version).toBe('1.2.0');
    await rollout({ stores: { [pinned]: null } });
    expect((await feed(a)).version).toBe('1.2.0');
  });

  it("the admin reads a till's reported version beside the version its feed offers it", async () => {
    const t = await c.provision(uid('store-view'));
    expect((await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', appVersion: '1.1.0' })).status).toBe(200);
    const r = await c.admin.get(`/api/admin/updates/terminals/${t.terminalId}`);
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ terminalId: t.terminalId, storeId: t.storeId, appVersion: '1.1.0', target: { version: '1.2.0', allowDowngrade: false, reason: 'ROLLOUT' } });
    expect((await c.admin.get('/api/admin/updates/terminals/no-such-till')).status).toBe(404);
    expect((await t.api.get(`/api/admin/updates/terminals/${t.terminalId}`)).status).toBe(403);
  });

  it('pause moves nobody forward; rollback takes every till back to the previous version, downgrade allowed', async () => {
    const tills = await terminalsIn(uid('store-rb'), 6);
    await rollout({ paused: true });
    for (const t of tills) {
      const info = await feed(t, '1.2.0');
      expect(info.version).toBe('1.1.0');
      expect(info[FEED_TARGET_FIELD]).toEqual({ allowDowngrade: false, reason: 'PAUSED' });
    }
    await rollout({ paused: false });
    const rb = await c.admin.post('/api/admin/updates/rollback');
    expect(rb.status, rb.text).toBe(200);
    expect(Rollout.parse(rb.body)).toMatchObject({ version: '1.1.0', rolledBack: true, rolledBackFrom: '1.2.0', percentage: 100 });
    for (const t of tills) {
      const info = await feed(t, '1.2.0');
      expect(info.version).toBe('1.1.0');
      expect(info[FEED_TARGET_FIELD]).toEqual({ allowDowngrade: true, reason: 'ROLLED_BACK' });
    }
    expect((await c.admin.post('/api/admin/updates/rollback')).body.code).toBe('ALREADY_ROLLED_BACK');
    // A new rollout starts from the version rolled back to.
    const next = await rollout({ version: '1.2.0', percentage: 10 });
    expect(next).toMatchObject({ version: '1.2.0', previous: '1.1.0', rolledBack: false, paused: false });
  });
});
