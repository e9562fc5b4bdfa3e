/**
 * Before the suite:
 * - builds the app (electron-vite, a few seconds): `npm start`'s stack test serves the
 *   built renderer from out/renderer, as `npm start` does. HQ's console (out/console,
 *   served by central at /console) is built when missing; its own end-to-end test
 *   builds a fresh copy (test/helpers/console-build.ts). With TILLSYNC_TEST_APP_BUILT=1
 *   (CI, which builds once for two runs side by side) it only checks both are there.
 * - transpiles src/ for the suite's child processes (test/helpers/test-build.ts), again
 *   before every rerun in watch mode, so they never run code older than the sources;
 *   the teardown removes it.
 * - on PostgreSQL (TEST_DATABASE_URL), migrates a database once for the run, which each
 *   test database is copied from (test/helpers/schema-template.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { dropSchemaTemplate, makeSchemaTemplate } from './helpers/schema-template.js';
import { buildForTests } from './helpers/test-build.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  if (process.env.TILLSYNC_TEST_APP_BUILT === '1') {
    // CI builds the app once and runs its two legs side by side: neither rebuilds out/
    // under the other's tests.
    for (const page of ['out/renderer/index.html', 'out/console/index.html']) {
      if (!existsSync(`${root}/${page}`)) throw new Error(`TILLSYNC_TEST_APP_BUILT=1 but ${page} is missing: run \`npx electron-vite build\` and \`npm run build:console\` first`);
    }
  } else {
    execFileSync(process.execPath, ['node_modules/electron-vite/bin/electron-vite.js', 'build', '--logLevel', 'error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    if (!existsSync(`${root}/out/console/index.html`)) {
      execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'vite.console.config.ts', '--logLevel', 'error'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  }
  const built = await buildForTests(root);
  project.provide('testBuild', built);
  const pgUrl = process.env.TEST_DATABASE_URL;
  const template = pgUrl ? await makeSchemaTemplate(pgUrl) : undefined;
  if (template) project.provide('pgSchemaTemplate', template);
  project.onTestsRerun(async () => {
    await buildForTests(root);
    if (pgUrl && template) await makeSchemaTemplate(pgUrl);
  });
  return async () => {
    rmSync(built, { recursive: true, force: true });
    if (pgUrl && template) await dropSchemaTemplate(pgUrl, template);
  };
}
