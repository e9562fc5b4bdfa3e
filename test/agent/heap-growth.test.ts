/**
 * A till's processes run with a fixed growth of V8's heap between full collections
 * (src/main/heap-growth.ts): left to V8, the same first sync peaked at 180 MB of RSS
 * in one run and at 250-285 MB in the next. Checked in a real process: after the CLI's
 * module is loaded, every heap limit V8 sets is the live heap times 1.4, as
 * `--trace-gc-verbose` reports it; and the companion's main process loads the module
 * first too (it needs Electron to run, so that is read from its source).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../../src/main/heap-growth.js';
import { ROOT } from '../helpers/processes.js';

/** The factors of the heap limits V8 set in the main isolate after `marker` was printed. */
function limitFactorsAfter(stdout: string, marker: string): string[] {
  const lines = stdout.split('\n');
  const from = lines.indexOf(marker);
  expect(from, stdout.slice(-2000)).toBeGreaterThanOrEqual(0);
  const main = lines.slice(from).filter((l) => l.includes('[HeapController] Limit:'));
  return main.map((l) => /\(([\d.]+)\)\s*$/.exec(l)?.[1] ?? l);
}

/** A child node that loads `module` (through tsx), prints a marker, then allocates enough for several full collections. */
function allocateAfterLoading(module: string): string {
  const script = [
    `await import(${JSON.stringify(pathToFileURL(module).href)});`,
    `console.log('LOADED');`,
    'const keep = [];',
    "for (let i = 0; i < 3e6; i++) { const o = { a: i, b: 'x' + i }; if (i % 10 === 0) keep.push(o); }",
    `console.log('kept', keep.length);`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--trace-gc-verbose', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("a till's heap growth between full collections", () => {
  it('is set after the CLI is loaded: every heap limit is the live heap times 1.4', () => {
    const factors = limitFactorsAfter(allocateAfterLoading(join(ROOT, 'src', 'agent', 'cli.ts')), 'LOADED');
    expect(factors.length).toBeGreaterThan(0);
    expect(new Set(factors)).toEqual(new Set([(1 + HEAP_GROWING_PERCENT / 100).toFixed(1)]));
  });

  it('is left to V8 in a process that does not load it (what the first test tells apart)', () => {
    const factors = limitFactorsAfter(allocateAfterLoading(join(ROOT, 'src', 'shared', 'hlc.ts')), 'LOADED');
    expect(factors.length).toBeGreaterThan(0);
    expect(factors).not.toContain((1 + HEAP_GROWING_PERCENT / 100).toFixed(1));
  });

  it("is loaded first by the companion's main process", () => {
    const source = readFileSync(join(ROOT, 'src', 'main', 'index.ts'), 'utf8');
    const imports = [...source.matchAll(/^import\s.*?['"]([^'"]+)['"];?$/gm)].map((m) => m[1]);
    expect(imports[0]).toBe('./heap-growth.js');
  });

  it('leaves a growth given on node\'s command line alone', () => {
    expect(heapGrowthFlag([])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(heapGrowthFlag(['--inspect', '--heap-growing-percent=10'])).toBeNull();
    expect(heapGrowthFlag(['--heap_growing_percent', '10'])).toBeNull();
    expect(heapGrowthFlag(['--heap-growing-percentage=10'])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  });
});
