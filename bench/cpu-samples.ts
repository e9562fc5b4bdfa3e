/**
 * What a V8 CPU profile (the inspector's `Profiler.stop`) says, as tables: the share of
 * samples by side (the engine, central, the HTTP client, garbage collection, idle), by
 * function or line where the time was spent, native and library samples by the
 * nearest function of our own that called them, and our functions' inclusive shares.
 * Pure: bench/cpu-profile.ts takes the profile, this reads it.
 */

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
  readonly positionTicks?: readonly { readonly line: number; readonly ticks: number }[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples?: readonly number[];
}

/** A table: label -> share of all samples (%), largest first. */
export type Shares = readonly (readonly [label: string, percent: number])[];

export interface ProfileSummary {
  readonly samples: number;
  readonly bySide: Shares;
  /** Where the time was spent: our code by line when the profile has lines (`byLine`), else by function; others by function. */
  readonly self: Shares;
  /** Native and library samples, by the nearest function of ours on their stack. */
  readonly nativeByCaller: Shares;
  /** Our functions, counting their callees. */
  readonly inclusive: Shares;
}

/** `ours`: the path part that marks our code (`/src/` or `/build/`). */
export function summarize(profile: CpuProfile, opts: { ours: string; byLine: boolean; top?: number }): ProfileSummary {
  const top = opts.top ?? 40;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map<number, number>();
  for (const id of profile.samples ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
  const total = Math.max(1, profile.samples?.length ?? 0);
  const isOurs = (url: string) => url.includes(opts.ours);
  const short = (url: string) => url.replace(/^.*?\/(src|build|bench)\//, '$1/').replace(/^.*node_modules\//, 'npm:');
  const fn = (n: CpuProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}${isOurs(n.callFrame.url) ? `:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  const stack = function* (id: number): Generator<CpuProfileNode> {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = nodes.get(cur);
      if (n) yield n;
    }
  };
  const bySide = new Map<string, number>();
  const self = new Map<string, number>();
  const nativeByCaller = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const [id, k] of counts) {
    const leaf = nodes.get(id);
    if (!leaf) continue;
    let side = leaf.callFrame.functionName === '(garbage collector)' ? 'garbage collection' : leaf.callFrame.functionName === '(idle)' ? 'idle' : 'other';
    let caller: CpuProfileNode | undefined;
    const seen = new Set<string>();
    for (const n of stack(id)) {
      const url = n.callFrame.url;
      if (side === 'other') {
        if (/\/(src|build)\/main\//.test(url)) side = 'the engine (main/)';
        else if (/\/(src|build)\/server\//.test(url)) side = 'central (server/)';
        else if (url.includes('undici')) side = 'the HTTP client (undici)';
      }
      if (isOurs(url)) {
        caller ??= n;
        const key = fn(n);
        if (!seen.has(key)) add(inclusive, key, k);
        seen.add(key);
      }
    }
    add(bySide, side, k);
    if (!isOurs(leaf.callFrame.url)) {
      add(self, fn(leaf), k);
      add(nativeByCaller, `${leaf.callFrame.functionName || short(leaf.callFrame.url) || '(native)'} <- ${caller ? fn(caller) : '(none of ours)'}`, k);
    } else if (!opts.byLine) {
      add(self, fn(leaf), k);
    }
  }
  if (opts.byLine) {
    // Line ticks are per node and sum to its self samples.
    for (const n of profile.nodes) {
      if (!isOurs(n.callFrame.url)) continue;
      for (const t of n.positionTicks ?? []) add(self, `${short(n.callFrame.url)}:${t.line}`, t.ticks);
    }
  }
  const shares = (m: Map<string, number>, k = top): Shares =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([label, v]) => [label, (100 * v) / total] as const);
  return { samples: total, bySide: shares(bySide, 10), self: shares(self), nativeByCaller: shares(nativeByCaller), inclusive: shares(inclusive) };
}

/** A table as text: one "  12.3%  label" line each. */
export function sharesText(title: string, rows: Shares): string {
  return [`${title}:`, ...rows.map(([label, p]) => `${p.toFixed(1).padStart(6)}%  ${label}`)].join('\n');
}
