/**
 * `npx tsx bench/hint-windows.ts [minGapMs,maxGapMs] [changes]`: central's hint
 * coalescer alone (src/server/services/change-hints.ts, its real timers, no database,
 * no socket, no till), fed one change for one terminal every minGap-maxGap ms (random),
 * as HQ repricing products one by one would, or an import's statements (a gap of
 * 20-35 ms). For each change: how long until the hint that announces it goes out, and
 * how many hints. The default timing beside the rule it replaced (the window doubled
 * after every hint while changes kept coming) and a flat window, side by side on the
 * same change times (bench/README.md, figure 14). Not part of `npm run bench`.
 */
import { HintCoalescer, DEFAULT_HINT_TIMING, type HintTiming } from '../src/server/services/change-hints.js';
import { percentile, round, sleep } from './lib.js';

const TIMINGS: Record<string, HintTiming> = {
  'default (doubles after a busy hint)': DEFAULT_HINT_TIMING,
  'doubling after every hint (before e39079c)': { ...DEFAULT_HINT_TIMING, busyAnnouncements: 1 },
  'a flat 250 ms window': { ...DEFAULT_HINT_TIMING, maxWindowMs: DEFAULT_HINT_TIMING.windowMs },
};

async function main(): Promise<void> {
  const [minGap, maxGap] = (process.argv[2] ?? '200,500').split(',').map(Number) as [number, number];
  const changes = Number(process.argv[3] ?? 60);
  const runs = Object.entries(TIMINGS).map(([name, timing]) => {
    const state = { name, waiting: [] as number[], delays: [] as number[], hints: 0 };
    const coalescer = new HintCoalescer(timing, () => {
      const now = Date.now();
      state.hints++;
      for (const at of state.waiting) state.delays.push(now - at);
      state.waiting = [];
    });
    return Object.assign(state, { coalescer });
  });
  for (let i = 0; i < changes; i++) {
    const now = Date.now();
    for (const r of runs) {
      r.waiting.push(now);
      r.coalescer.add('till', ['Product']);
    }
    await sleep(minGap + Math.random() * (maxGap - minGap));
  }
  await sleep(DEFAULT_HINT_TIMING.maxWindowMs + 500);
  process.stdout.write(`${changes} changes, one every ${minGap}-${maxGap} ms: commit -> hint sent\n`);
  for (const r of runs) {
    process.stdout.write(
      `  ${r.name.padEnd(44)} hints ${String(r.hints).padStart(3)}  p50 ${String(round(percentile(r.delays, 50))).padStart(5)} ms  p99 ${String(round(percentile(r.delays, 99))).padStart(5)} ms  max ${round(Math.max(...r.delays))} ms\n`,
    );
    r.coalescer.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
