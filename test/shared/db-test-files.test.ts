/**
 * CI's PostgreSQL leg runs only the test files that depend on TEST_DATABASE_URL
 * (scripts/db-test-files.ts). A file it wrongly leaves out would never meet
 * PostgreSQL; these tests pin how the dependence is found.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { reaching, readsTestDatabaseUrl, splitTestFiles, valueSpecifiers } from '../../scripts/db-test-files.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

describe('valueSpecifiers', () => {
  it('follows imports that run code, not type-only ones nor packages', () => {
    const text = [
      "import type { A } from './types.js';",
      "import { b, type B } from '../b.js';",
      "import c from './c.js';",
      "import * as d from './d.js';",
      "import './side.js';",
      "export { e } from './e.js';",
      "export type { F } from './f.js';",
      "export * from './g.js';",
      "const h = await import('./h.js');",
      "import pg from 'pg';",
      "// import { x } from './commented.js';",
      "/* import { y } from './block.js'; */",
      'import {',
      '  multi,',
      '  type Line,',
      "} from './multi.js';",
      'import type {',
      '  OnlyTypes,',
      "} from './only-types.js';",
    ].join('\n');
    expect(valueSpecifiers(text)).toEqual(['../b.js', './c.js', './d.js', './side.js', './e.js', './g.js', './h.js', './multi.js']);
  });
});

describe('readsTestDatabaseUrl', () => {
  it('sees a read of the variable, not its name in a list or a comment', () => {
    expect(readsTestDatabaseUrl('export const U = process.env.TEST_DATABASE_URL;')).toBe(true);
    expect(readsTestDatabaseUrl("const u = process.env['TEST_DATABASE_URL'];")).toBe(true);
    expect(readsTestDatabaseUrl('const { TEST_DATABASE_URL: url } = process.env;')).toBe(true);
    expect(readsTestDatabaseUrl("for (const k of ['DATABASE_URL', 'TEST_DATABASE_URL']) delete env[k];")).toBe(false);
    expect(readsTestDatabaseUrl('// set TEST_DATABASE_URL to run on PostgreSQL\nconst x = process.env.TEST_DATABASE_URL_OTHER;')).toBe(false);
  });
});

describe('reaching', () => {
  it('finds the roots that reach a target through any path, cycles included', () => {
    const graph = new Map<string, string[]>([
      ['a.test', ['helper']],
      ['helper', ['db']],
      ['b.test', ['pure']],
      ['pure', []],
      ['c.test', ['x']],
      ['x', ['y']],
      ['y', ['x', 'db']], // a cycle x -> y -> x, and y reaches the target
      ['d.test', ['p']],
      ['p', ['q']],
      ['q', ['p']], // a cycle that reaches nothing
      ['e.test', ['q', 'x']], // q is false, x (met after it) is true
    ]);
    expect(reaching(graph, ['a.test', 'b.test', 'c.test', 'd.test', 'e.test'], new Set(['db']))).toEqual(['a.test', 'c.test', 'e.test']);
  });
});

describe("this repository's split", () => {
  const split = splitTestFiles(ROOT);
  const all = (function walk(dir: string): string[] {
    return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : n.endsWith('.test.ts') ? [join(dir, n)] : []));
  })(join(ROOT, 'test')).map((f) => f.slice(ROOT.length + 1));

  it('puts every test file on exactly one side', () => {
    expect([...split.database, ...split.others].sort()).toEqual([...all].sort());
    expect(split.database.filter((f) => split.others.includes(f))).toEqual([]);
  });

  it('runs on PostgreSQL every file that opens central, reads the variable or asks which database it is on', () => {
    for (const f of all) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      if (/\b(startCentral|testDatabase|onPostgres|scratchPostgres)\b|process\.env\.TEST_DATABASE_URL/.test(text)) expect(split.database, f).toContain(f);
    }
    expect(split.database).toEqual(expect.arrayContaining(['test/server/push.test.ts', 'test/chaos/chaos.test.ts', 'test/server/ops.test.ts', 'test/e2e/console.test.ts']));
  });

  it('leaves out files that only share types with the central harness', () => {
    // test/helpers/engine.ts imports the harness's types only.
    expect(split.others).toContain('test/engine/missing-parent.test.ts');
    expect(split.others).toContain('test/bench/cpu-samples.test.ts');
  });
});
