/**
 * HQ's console (src/console) built for tests: vite into a temp dir once per test file,
 * as useRenderer builds the companion's renderer, so a test always runs the console as
 * the sources are now. Central serves it from TILLSYNC_CONSOLE_DIR (read when central
 * is created), which useConsoleBuild sets before any central of the file starts.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { REPO_ROOT } from './engine.js';

/** Builds the console into `outDir` (vite, a few seconds). */
export async function buildConsole(outDir: string): Promise<void> {
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.console.config.ts', '--outDir', outDir, '--logLevel', 'error'], {
    cwd: REPO_ROOT,
  });
  if (!existsSync(join(outDir, 'index.html'))) throw new Error(`the console build left no ${outDir}/index.html`);
}

/**
 * The console built once for this test file into a temp dir named now (so centrals
 * created later in the file serve it), removed in afterAll, where the variable is put
 * back as it was. Call it at the top level.
 */
export function useConsoleBuild(): { readonly dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tillsync-console-'));
  const before = process.env.TILLSYNC_CONSOLE_DIR;
  process.env.TILLSYNC_CONSOLE_DIR = dir;
  beforeAll(() => buildConsole(dir), 120_000);
  afterAll(() => {
    // The next file run in this worker must not be sent to a removed directory.
    if (before === undefined) delete process.env.TILLSYNC_CONSOLE_DIR;
    else process.env.TILLSYNC_CONSOLE_DIR = before;
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir };
}
