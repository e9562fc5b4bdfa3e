/**
 * The suite's child processes (central, the `tillsync` command) run plain JavaScript
 * that the global setup transpiles from src/ at the start of every run, instead of
 * `node --import tsx`: tsx's loader costs about a second of CPU in every process it
 * starts (its hooks thread sees each of the hundreds of modules loaded), and the suite
 * starts hundreds of them on a two-core machine.
 *
 * The build is esbuild's transpilation of each file on its own (what tsx does as it
 * loads them), laid out as src/ is, one folder below the repository as src/ and build/
 * are, so the paths the code resolves from import.meta.url (drizzle/, out/console,
 * out/renderer) hold. Each run has its own (`.test-build-<pid>`), made at its start (and
 * at every rerun in watch mode), so it is never older than the sources, and removed at
 * its end. Test files learn its folder from `inject('testBuild')` (suiteBuild() in
 * test/helpers/processes.ts); code run outside vitest (scripts/chaos.ts) has none and
 * runs tsx.
 */
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { leftoversOfRuns, processRunning } from './run-leftovers.js';

/** The suite's builds are folders `.test-build-<pid of the run>` under the repository. */
export const TEST_BUILD_PREFIX = '.test-build-';

/** The TypeScript files the build transpiles: src/ without the browser code and declarations. */
export function buildEntries(root: string): string[] {
  return readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .map((f) => f.split('\\').join('/'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('renderer/') && !f.startsWith('console/'))
    .sort()
    .map((f) => join(root, 'src', f));
}

/**
 * The builds left by runs that ended without their teardown (killed): their run's
 * process is gone. A running one's build is not touched, so two runs (a watch and a
 * single file, say) never pull a build from under each other's processes.
 */
export function leftoverBuilds(root: string, isRunning: (pid: number) => boolean = processRunning): string[] {
  return leftoversOfRuns(readdirSync(root), TEST_BUILD_PREFIX, isRunning).map((name) => join(root, name));
}

/**
 * Transpiles src/ into `<root>/.test-build-<pid>` (this run's, emptied first) and
 * removes the builds of runs that are gone; returns this run's folder.
 */
export async function buildForTests(root: string, pid: number = process.pid): Promise<string> {
  for (const dir of leftoverBuilds(root)) rmSync(dir, { recursive: true, force: true });
  const outdir = join(root, `${TEST_BUILD_PREFIX}${pid}`);
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: buildEntries(root),
    outdir,
    outbase: join(root, 'src'),
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    sourcemap: 'inline',
    logLevel: 'error',
  });
  return outdir;
}

/**
 * The node arguments that run the TypeScript module `entry` (a path under src/,
 * relative to the repository, e.g. `src/server/main.ts`): its transpiled copy in
 * `built` (the suite's build), or `--import tsx <entry>` when there is none.
 */
export function nodeEntry(root: string, entry: string, built: string | undefined): string[] {
  const m = /^src\/(.+)\.ts$/.exec(entry);
  if (!m) throw new Error(`nodeEntry: ${entry} is not a TypeScript module under src/`);
  return built ? [join(built, `${m[1]}.js`)] : ['--import', 'tsx', join(root, entry)];
}
