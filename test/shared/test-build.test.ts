/**
 * The suite's child processes run src/ as the global setup transpiled it
 * (test/helpers/test-build.ts). These pin what it transpiles, how an entry maps to its
 * copy, and that the copy this run uses is the sources' as they are now.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { suiteBuild } from '../helpers/processes.js';
import { buildEntries, leftoverBuilds, nodeEntry, TEST_BUILD_PREFIX } from '../helpers/test-build.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

describe('the suite build', () => {
  it("transpiles src/'s node code: both entry points, none of the browser code or declarations", () => {
    const entries = buildEntries(ROOT).map((f) => relative(ROOT, f).split('\\').join('/'));
    expect(entries).toContain('src/server/main.ts');
    expect(entries).toContain('src/agent/cli.ts');
    expect(entries.filter((f) => f.startsWith('src/renderer/') || f.startsWith('src/console/') || f.endsWith('.d.ts') || !f.endsWith('.ts'))).toEqual([]);
  });

  it('maps an entry to its copy in the build, or runs it through tsx without one; refuses what is not under src/', () => {
    expect(nodeEntry('/repo', 'src/server/main.ts', '/repo/.test-build')).toEqual(['/repo/.test-build/server/main.js']);
    expect(nodeEntry('/repo', 'src/agent/cli.ts', undefined)).toEqual(['--import', 'tsx', join('/repo', 'src/agent/cli.ts')]);
    expect(() => nodeEntry('/repo', 'test/fixtures/proc-sale.ts', '/repo/.test-build')).toThrow(/not a TypeScript module under src/);
  });

  it("removes the builds of runs that are gone, never a running run's", () => {
    const root = mkdtempSync(join(tmpdir(), 'tillsync-test-build-'));
    try {
      for (const name of [`${TEST_BUILD_PREFIX}100`, `${TEST_BUILD_PREFIX}200`, `${TEST_BUILD_PREFIX}junk`, 'src', '.test-builder']) mkdirSync(join(root, name));
      const left = leftoverBuilds(root, (pid) => pid === 200).map((d) => relative(root, d));
      expect(left.sort()).toEqual([`${TEST_BUILD_PREFIX}100`, `${TEST_BUILD_PREFIX}junk`]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('this run has one of its own, one folder below the repository as src/ is, made from the sources as they are', () => {
    const built = suiteBuild();
    expect(dirname(built as string)).toBe(ROOT);
    expect(basename(built as string)).toMatch(/^\.test-build-\d+$/);
    // Not another run's: the vitest process that made it is running (it is our parent's).
    expect(leftoverBuilds(ROOT).includes(built as string)).toBe(false);
    const copy = join(built as string, 'agent', 'commands', 'service-unit.js');
    expect(existsSync(copy)).toBe(true);
    // The copy carries the source it was made from (inline source map).
    const map = /sourceMappingURL=data:application\/json;base64,(.+)$/m.exec(readFileSync(copy, 'utf8'));
    const sources = JSON.parse(Buffer.from(map?.[1] ?? '', 'base64').toString('utf8')) as { sourcesContent: string[] };
    expect(sources.sourcesContent[0]).toBe(readFileSync(join(ROOT, 'src/agent/commands/service-unit.ts'), 'utf8'));
    // And runs as the `tillsync` command: its usage, exit 0.
    const r = spawnSync(process.execPath, [...nodeEntry(ROOT, 'src/agent/cli.ts', built), '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: tillsync <command>/);
  });
});
