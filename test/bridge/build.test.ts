/**
 * The Electron shell builds without the Electron binary, and its preload is what a
 * sandboxed renderer can load: one CommonJS file that requires nothing but electron.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { RENDERER_CSP } from '../../src/main/window-security.js';

const root = new URL('../..', import.meta.url).pathname;
const outDir = mkdtempSync(join(tmpdir(), 'tillsync-build-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

it('electron-vite builds main, a sandbox-safe CommonJS preload and the renderer', { timeout: 120_000 }, async () => {
  await promisify(execFile)(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--outDir', outDir], { cwd: root });
  const preload = readFileSync(join(outDir, 'preload/index.cjs'), 'utf8');
  expect(preload.startsWith('"use strict"')).toBe(true);
  expect([...new Set(preload.match(/require\("[^"]+"\)/g))]).toEqual(['require("electron")']);
  expect(preload).toContain('exposeInMainWorld("tillsync"');
  expect(readFileSync(join(outDir, 'main/index.js'), 'utf8')).toContain('../preload/index.cjs');
  // The page's own policy is the one main and web mode send as a header (a meta tag cannot carry frame-ancestors).
  const html = readFileSync(join(outDir, 'renderer/index.html'), 'utf8');
  const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  expect(meta).toBe(RENDERER_CSP.replace(" frame-ancestors 'none';", ''));
  // Assets load relatively, from file:// in Electron and from / in web mode.
  expect(html).toMatch(/src="\.\/assets\/index-[\w-]+\.js"/);
});
