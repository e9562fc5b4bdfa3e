/**
 * No import cycles in src/: every relative import of every src/**\/*.ts(x) file
 * (static, `import type`, re-exports and dynamic `import()` alike) is a graph edge,
 * and the graph must have no cycle. A cycle is printed as a path of files, e.g.
 * `src/a.ts -> src/b.ts -> src/a.ts`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveImport } from '../../scripts/db-test-files.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative module specifiers a file imports: `from '...'`, `import '...'` and `import('...')`. */
export function specifiers(text: string): string[] {
  // Comments may quote imports (as this file's header does); drop them first.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)) out.push(m[2] as string);
  return out;
}

/** Cycles of the graph: for each strongly connected component, cycle paths that together pass through all its files. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's strongly connected components (iteration order is stable: sorted input).
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(comp);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  // Concrete cycles through every file of each component: the shortest path back to the file.
  const cycleThrough = (start: string, inComp: ReadonlySet<string>): string[] => {
    const prev = new Map<string, string>();
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i] as string;
      for (const w of graph.get(v) ?? []) {
        if (!inComp.has(w)) continue;
        if (w === start) {
          const path = [start];
          for (let at: string | undefined = v; at !== undefined && at !== start; at = prev.get(at)) path.splice(1, 0, at);
          return [...path, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  };
  return components.flatMap((comp) => {
    const inComp = new Set(comp);
    const covered = new Set<string>();
    const cycles: string[][] = [];
    for (const file of [...comp].sort()) {
      if (covered.has(file)) continue;
      const cycle = cycleThrough(file, inComp);
      for (const f of cycle) covered.add(f);
      cycles.push(cycle);
    }
    return cycles;
  });
}

describe('src/ has no import cycles', () => {
  it('finds a cycle where there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    expect(findCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
    expect(specifiers(`import type { X } from './x.js';\nexport { y } from "../y.js";\nconst z = await import('./z.ts');\nimport './side.js';\nimport pino from 'pino';`)).toEqual([
      './x.js',
      '../y.js',
      './z.ts',
      './side.js',
    ]);
  });

  it('every relative import in src/ leads away from the file for good', () => {
    const graph = new Map<string, string[]>();
    for (const file of sources(SRC).sort()) {
      const deps = specifiers(readFileSync(file, 'utf8'))
        .map((s) => resolveImport(file, s, /\.tsx?$/))
        .filter((d): d is string => d !== undefined && d.startsWith(SRC));
      graph.set(relative(ROOT, file), [...new Set(deps.map((d) => relative(ROOT, d)))]);
    }
    const cycles = findCycles(graph).map((c) => c.join(' -> '));
    expect(cycles, `import cycles in src/:\n  ${cycles.join('\n  ')}`).toEqual([]);
  });
});
