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
  expect(readFileSync(join(outDir, 'renderer/index.html'), 'utf8')).toContain('Content-Security-Policy');
});
