/**
 * Companion releases for tests: a release as electron-builder writes one for Windows
 * (installer, blockmap, latest.yml), uploaded to a real central, and electron-updater's
 * own GenericProvider reading a till's feed over node's http (its executor in the app is
 * Electron's net module; everything else is electron-updater's code).
 */
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { APP_VERSION_HEADER, FEED_TARGET_FIELD, Rollout, type FeedTarget } from '../../src/shared/update-protocol.js';
import type { ApiClient } from './central.js';

const require = createRequire(import.meta.url);

export interface UpdateInfo {
  version: string;
  files: { url: string; sha512: string; size?: number }[];
  stagingPercentage?: number;
  [FEED_TARGET_FIELD]?: FeedTarget;
}

export interface FeedProvider {
  setRequestHeaders(h: Record<string, string>): void;
  getLatestVersion(): Promise<UpdateInfo>;
  resolveFiles(info: UpdateInfo): { url: URL; info: { sha512: string; size?: number } }[];
}

const { GenericProvider } = require('electron-updater/out/providers/GenericProvider.js') as {
  GenericProvider: new (
    config: { provider: 'generic'; url: string },
    updater: { channel: string | null; isAddNoCacheQuery: boolean },
    runtime: { executor: unknown; platform: string; isUseMultipleRangeRequest: boolean },
  ) => FeedProvider;
};
const { HttpExecutor } = require('builder-util-runtime') as { HttpExecutor: new () => object };

/** builder-util-runtime's executor over node's http. */
class NodeExecutor extends (HttpExecutor as unknown as new () => object) {
  createRequest(options: http.RequestOptions & { protocol?: string }, callback: (res: http.IncomingMessage) => void): http.ClientRequest {
    const req = (options.protocol === 'https:' ? https : http).request({ ...options, agent: false });
    req.on('response', callback);
    return req;
  }
}

/** electron-updater's generic provider for a feed URL, as a till on `platform` runs it. */
export function feedProvider(url: string, platform: 'win32' | 'darwin' | 'linux' = 'win32'): FeedProvider {
  return new GenericProvider({ provider: 'generic', url }, { channel: null, isAddNoCacheQuery: false }, { executor: new NodeExecutor(), platform, isUseMultipleRangeRequest: true });
}

/** What a till's electron-updater reads from central's feed. */
export function readFeed(centralUrl: string, apiKey: string, running: string, platform: 'win32' | 'darwin' | 'linux' = 'win32'): Promise<UpdateInfo> {
  const p = feedProvider(`${centralUrl}/api/updates/feed`, platform);
  p.setRequestHeaders({ authorization: `Bearer ${apiKey}`, [APP_VERSION_HEADER]: running });
  return p.getLatestVersion();
}

export const sha512 = (b: Uint8Array) => createHash('sha512').update(b).digest('base64');

export interface BuiltRelease {
  readonly version: string;
  readonly exe: Buffer;
  readonly name: string;
  readonly blockmap: Buffer;
  readonly yml: string;
}

/** A release as electron-builder would write it for Windows: the installer, its blockmap and latest.yml (with electron-updater's own staging, which central drops). */
export function buildRelease(version: string, size = 2 * 1024 * 1024 + 12345): BuiltRelease {
  const exe = randomBytes(size);
  const name = `TillSync-Setup-${version}.exe`;
  const yml = stringify({
    version,
    files: [{ url: name, sha512: sha512(exe), size: exe.length }],
    path: name,
    sha512: sha512(exe),
    releaseDate: '2026-12-06T10:00:00.000Z',
    stagingPercentage: 10,
  });
  return { version, exe, name, blockmap: randomBytes(900), yml };
}

export function putFile(admin: ApiClient, path: string, body: Uint8Array | string, token = admin.token, type = 'application/octet-stream'): Promise<Response> {
  return fetch(admin.baseUrl + path, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token ?? ''}`, 'content-type': type },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

/** Creates the release (unless `create` is false) and uploads latest.yml, the installer and its blockmap. */
export async function uploadRelease(admin: ApiClient, r: BuiltRelease, opts: { create?: boolean } = {}): Promise<void> {
  if (opts.create !== false) expect((await admin.post('/api/admin/updates/releases', { version: r.version, notes: `notes ${r.version}` })).status).toBe(201);
  const base = `/api/admin/updates/releases/${r.version}/files/`;
  for (const [name, body] of [['latest.yml', r.yml], [r.name, r.exe], [`${r.name}.blockmap`, r.blockmap]] as const) {
    const res = await putFile(admin, base + encodeURIComponent(name), body);
    expect(res.status, await res.clone().text()).toBe(201);
  }
}

export async function setRollout(admin: ApiClient, patch: object): Promise<Rollout> {
  const r = await admin.patch('/api/admin/updates/rollout', patch);
  expect(r.status, r.text).toBe(200);
  return Rollout.parse(r.body);
}
