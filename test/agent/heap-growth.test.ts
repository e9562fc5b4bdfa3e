/**
 * A till's processes run with a fixed growth of V8's heap between full collections
 * (src/main/heap-growth.ts): left to V8, the same first sync peaked at 180 MB of RSS
 * in one run and at 239-287 MB in the next. Checked in a real process: after the CLI's
 * module is loaded, every full collection sets the next heap limit with the factor
 * 1 + HEAP_GROWING_PERCENT / 100, as `--trace-gc-verbose` reports it (V8's own choice
 * is up to 4). The companion's main process needs Electron to run; that it imports the
 * module is read from its source.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowthFlag } from '../../src/main/heap-growth.js';
import { ROOT } from '../helpers/processes.js';

const FIXED = (1 + HEAP_GROWING_PERCENT / 100).toFixed(1);

/**
 * A child node that loads `module` (through tsx), prints a marker, then allocates and
 * forces three full collections; the factors of the heap limits V8 set after the marker.
 */
function factorsAfterLoading(module: string): string[] {
  const script = [
    `await import(${JSON.stringify(pathToFileURL(module).href)});`,
    `console.log('LOADED');`,
    'for (let k = 0; k < 3; k++) {',
    '  const keep = [];',
    '  for (let i = 0; i < 3e5; i++) keep.push({ a: i, b: "x" + i });',
    '  globalThis.gc();',
    '}',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--trace-gc-verbose', '--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.split('\n');
  const from = lines.indexOf('LOADED');
  expect(from, r.stdout.slice(-2000)).toBeGreaterThanOrEqual(0);
  return lines
    .slice(from)
    .filter((l) => l.includes('[HeapController] Limit:'))
    .map((l) => /\(([\d.]+)\)\s*$/.exec(l)?.[1] ?? l);
}

describe("a till's heap growth between full collections", () => {
  it('is fixed once the CLI is loaded: every full collection sets the next limit with the same factor', () => {
    const factors = factorsAfterLoading(join(ROOT, 'src', 'agent', 'cli.ts'));
    expect(factors.length).toBeGreaterThanOrEqual(3);
    expect(new Set(factors)).toEqual(new Set([FIXED]));
  });

  it('is left to V8 in a process that does not load it (what the first case tells apart)', () => {
    const factors = factorsAfterLoading(join(ROOT, 'src', 'shared', 'hlc.ts'));
    expect(factors.length).toBeGreaterThanOrEqual(3);
    expect(factors.filter((f) => f !== FIXED).length).toBeGreaterThan(0);
  });

  it("is set in the companion's main process too", () => {
    const source = readFileSync(join(ROOT, 'src', 'main', 'index.ts'), 'utf8');
    expect(source).toMatch(/^import '\.\/heap-growth\.js';$/m);
  });

  it("leaves a growth given on the process's command line alone", () => {
    expect(heapGrowthFlag([])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    expect(heapGrowthFlag(['--inspect', '--heap-growing-percent=10'])).toBeNull();
    expect(heapGrowthFlag(['--heap_growing_percent', '10'])).toBeNull();
    // The companion (Electron) passes V8 flags in one switch.
    expect(heapGrowthFlag(['/opt/TillSync/tillsync', '--js-flags=--heap-growing-percent=10 --expose-gc'])).toBeNull();
    expect(heapGrowthFlag(['--heap-growing-percentage=10'])).toBe(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  });
});
