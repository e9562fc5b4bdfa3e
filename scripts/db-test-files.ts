/**
 * The test files whose behaviour depends on TEST_DATABASE_URL: those that import,
 * directly or through other modules (static or dynamic `import()`, not `import type`),
 * a module that reads `process.env.TEST_DATABASE_URL`. Only these change when the
 * suite runs against a PostgreSQL server; every other file runs the same code on
 * either leg, so CI's PostgreSQL leg runs these alone (the PGlite leg runs them all).
 *
 *   npx tsx scripts/db-test-files.ts            # one path a line, relative to the repository
 *   npx tsx scripts/db-test-files.ts --others   # the files that do not depend on it
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Code without comments (comments may quote imports and the variable's name). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

/**
 * Relative specifiers whose module runs when this one does: `import ... from`,
 * `export ... from`, side-effect `import '...'` and `import('...')`; not `import type`
 * or `export type` (erased), nor bare package names.
 */
export function valueSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of code(text).matchAll(/(?:^\s*(import|export)\b([^'";]*?)\bfrom\s*|^\s*import\s+|\bimport\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\3/gm)) {
    const clause = m[2] ?? '';
    if (/^\s*type\b/.test(clause)) continue;
    out.push(m[4] as string);
  }
  return out;
}

/** Whether a module reads TEST_DATABASE_URL from the environment. */
export function readsTestDatabaseUrl(text: string): boolean {
  const c = code(text);
  return (
    /process\.env\s*(?:\.\s*TEST_DATABASE_URL\b|\[\s*['"]TEST_DATABASE_URL['"]\s*\])/.test(c) ||
    /\{[^}]*\bTEST_DATABASE_URL\b[^}]*\}\s*=\s*process\.env\b/.test(c)
  );
}

/** The files of `roots` from which some file of `targets` can be reached along `graph`'s edges. */
export function reaching(graph: ReadonlyMap<string, readonly string[]>, roots: readonly string[], targets: ReadonlySet<string>): string[] {
  const memo = new Map<string, boolean>();
  const reaches = (file: string, path: Set<string>): boolean => {
    const known = memo.get(file);
    if (known !== undefined) return known;
    if (targets.has(file)) {
      memo.set(file, true);
      return true;
    }
    if (path.has(file)) return false; // a cycle: decided by the files on it
    path.add(file);
    const found = (graph.get(file) ?? []).some((next) => reaches(next, path));
    path.delete(file);
    // A `false` met inside a cycle is only known once the cycle's entry is done.
    if (found || path.size === 0) memo.set(file, found);
    return found;
  };
  return roots.filter((r) => reaches(r, new Set()));
}

/**
 * The file a relative specifier names (`./x.js` is `./x.ts` or `./x.tsx`; a folder is
 * its index), if its name matches `accept` (test/shared/no-cycles.test.ts takes
 * TypeScript only).
 */
export function resolveImport(from: string, spec: string, accept: RegExp = /\.(tsx?|mjs|js)$/): string | undefined {
  const base = resolve(dirname(from), spec);
  const stem = base.replace(/\.(js|mjs|cjs|jsx|ts|tsx)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.tsx`, join(base, 'index.ts'), join(base, 'index.tsx')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile() && accept.test(c));
}

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return testFiles(p);
    return name.endsWith('.test.ts') ? [p] : [];
  });
}

/** The repository's test files split by whether they depend on TEST_DATABASE_URL (paths relative to `root`, sorted). */
export function splitTestFiles(root: string): { database: string[]; others: string[] } {
  const roots = testFiles(join(root, 'test')).sort();
  const graph = new Map<string, string[]>();
  const targets = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (graph.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (readsTestDatabaseUrl(text)) targets.add(file);
    const next = valueSpecifiers(text)
      .map((s) => resolveImport(file, s))
      .filter((f): f is string => f !== undefined);
    graph.set(file, next);
    queue.push(...next);
  }
  const database = new Set(reaching(graph, roots, targets));
  const rel = (f: string): string => relative(root, f).split('\\').join('/');
  return { database: roots.filter((f) => database.has(f)).map(rel), others: roots.filter((f) => !database.has(f)).map(rel) };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.some((a) => a !== '--others')) {
    console.error(`db-test-files: unknown argument ${args.find((a) => a !== '--others')}\nusage: npx tsx scripts/db-test-files.ts [--others]`);
    process.exit(2);
  }
  const split = splitTestFiles(resolve(dirname(fileURLToPath(import.meta.url)), '..'));
  console.log((args.includes('--others') ? split.others : split.database).join('\n'));
}
