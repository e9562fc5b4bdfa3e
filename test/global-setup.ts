/**
 * Builds the app once before the suite (electron-vite, a few seconds): `npm start`'s
 * stack test serves the built renderer from out/renderer, as `npm start` does. HQ's
 * console (out/console, served by central at /console) is built when missing; its own
 * end-to-end test builds a fresh copy (test/helpers/console-build.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['node_modules/electron-vite/bin/electron-vite.js', 'build', '--logLevel', 'error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(`${root}/out/console/index.html`)) {
    execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'vite.console.config.ts', '--logLevel', 'error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}
