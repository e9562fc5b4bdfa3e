/**
 * One job per file: no source file in src/ is over 500 lines. A file that grows past
 * it holds more than one room; split it where the jobs part (see the README's
 * architecture section).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const LIMIT = 500;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.tsx?$/.test(name) ? [p] : [];
  });
}

/** Files over `limit` lines, as `path: lines`. */
export function oversized(files: readonly string[], limit: number, read: (path: string) => string): string[] {
  return files.flatMap((f) => {
    const lines = read(f).split('\n').length - (read(f).endsWith('\n') ? 1 : 0);
    return lines > limit ? [`${relative(ROOT, f)}: ${lines} lines`] : [];
  });
}

describe('file size', () => {
  it(`no source file in src/ is over ${LIMIT} lines`, () => {
    const files = sources(join(ROOT, 'src'));
    expect(files.length).toBeGreaterThan(50);
    expect(oversized(files, LIMIT, (p) => readFileSync(p, 'utf8'))).toEqual([]);
  });

  it('counts lines as an editor does (the check itself can fail)', () => {
    const text = (n: number) => 'x\n'.repeat(n);
    expect(oversized([join(ROOT, 'src/a.ts')], LIMIT, () => text(LIMIT))).toEqual([]);
    expect(oversized([join(ROOT, 'src/a.ts')], LIMIT, () => text(LIMIT + 1))).toEqual(['src/a.ts: 501 lines']);
  });
});
