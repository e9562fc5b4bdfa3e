/**
 * bin/tillsync.mjs, the `tillsync` command: which code it runs. A development install
 * (tsx and src/ there) runs the TypeScript source even when a build exists, so it never
 * runs a stale build; a production install (no tsx: `npm prune --omit=dev`) runs
 * build/agent/cli.js; with neither it says to run `npm run build`. The copies below
 * are laid out as the repository is, with the real bin/tillsync.mjs and stand-in
 * entry points that say which one ran (the real build, pruned, is proven end to end
 * by scripts/production-smoke.sh).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function run(bin: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the repository's layout with the real bin and the given parts. */
function layout(parts: { tsx?: boolean; source?: boolean; build?: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tillsync-bin-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tillsync', type: 'module', private: true }));
  copyFileSync(join(ROOT, 'bin', 'tillsync.mjs'), join(dir, 'bin', 'tillsync.mjs'));
  if (parts.tsx) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  if (parts.source) {
    mkdirSync(join(dir, 'src', 'agent'), { recursive: true });
    // TypeScript syntax: it only loads through tsx.
    writeFileSync(
      join(dir, 'src', 'agent', 'cli.ts'),
      "export function runAndExit(argv: string[] = process.argv.slice(2)): void { process.stdout.write(`source ${argv.join(' ')}\\n`); process.exit(0); }\n",
    );
  }
  if (parts.build) {
    mkdirSync(join(dir, 'build', 'agent'), { recursive: true });
    writeFileSync(
      join(dir, 'build', 'agent', 'cli.js'),
      "export function runAndExit(argv = process.argv.slice(2)) { process.stdout.write(`build ${argv.join(' ')}\\n`); process.exit(0); }\n",
    );
  }
  return join(dir, 'bin', 'tillsync.mjs');
}

describe('bin/tillsync.mjs', () => {
  it('a development install runs the TypeScript source through tsx, even beside a build', () => {
    const r = run(layout({ tsx: true, source: true, build: true }), ['status', '--json']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('source status --json\n');
    expect(r.code).toBe(0);
  });

  it('a production install (no tsx) runs the build', () => {
    const r = run(layout({ source: true, build: true }), ['agent']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('build agent\n');
    expect(r.code).toBe(0);
  });

  it('with no tsx and no build it says to run npm run build (exit 2)', () => {
    const r = run(layout({ source: true }), ['agent']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/build[/\\]agent[/\\]cli\.js is missing.*run `npm run build`/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.code).toBe(2);
  });

  it('runs through a symlink named tillsync, as npm installs the command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-link-'));
    dirs.push(dir);
    const link = join(dir, 'tillsync');
    symlinkSync(join(ROOT, 'bin', 'tillsync.mjs'), link);
    const r = run(link, ['help']);
    expect(r.stdout).toMatch(/^usage: tillsync <command>/);
    expect(r.stdout).toContain('simulate');
    expect(r.code).toBe(0);
  });
});
