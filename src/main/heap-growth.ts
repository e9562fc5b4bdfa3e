/**
 * How far a till's process lets V8's heap grow between two full garbage collections.
 * Imported first, for its effect, by each entry point of a process that runs the sync
 * engine on a till (the agent and CLI, the companion's main process).
 *
 * By default V8 picks that growth after each full collection from how fast it collected
 * and how fast the program allocated, up to 4 times the live heap. A first sync of a big
 * catalogue allocates a page of rows at a time and keeps about 22 MB live; V8 chose 1.5x
 * in some runs and 4x in others, so the same sync of 1,000,000 products peaked at
 * 180 MB of RSS in one run and 250-285 MB in the next (DESIGN.md's budget: 200 MB).
 * At a fixed HEAP_GROWING_PERCENT it peaked at 181-194 MB in each of 16 runs
 * (bench/README.md, "The first sync's memory"); the extra full collections of a heap
 * this small take a few milliseconds each (the sync's time moved within its spread).
 *
 * Set at run time (`v8.setFlagsFromString`): V8 reads this flag at every full
 * collection, so it applies from here on. A `--heap-growing-percent` given on node's
 * command line wins.
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 40;

/** The V8 flag to set, or null when node's own command line already sets one. Pure. */
export function heapGrowthFlag(execArgv: readonly string[]): string | null {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return null;
  return `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

const flag = heapGrowthFlag(process.execArgv);
if (flag !== null) v8.setFlagsFromString(flag);
