/**
 * How much V8's heap may grow, in a till's process, before the next full garbage
 * collection. Imported, for its effect, by each entry point of a process that runs the
 * sync engine on a till (the agent and CLI, the companion's main process), before the
 * engine starts.
 *
 * After each full collection V8 sets the old generation's next limit from the heap it
 * kept, times a factor it picks from how fast it collected and how fast the program
 * allocated, up to 4. A first sync of a big catalogue keeps about 22 MB live while it
 * allocates a page of rows at a time; V8 picked 1.5 in some runs and 4 in others, so the
 * same sync of 1,000,000 products peaked at 180 MB of RSS in one run and at 239-287 MB
 * in the next (DESIGN.md's budget: 200 MB). With the factor fixed at
 * 1 + HEAP_GROWING_PERCENT / 100 it peaked at 181-194 MB in each of 16 runs
 * (bench/README.md, "The first sync's memory"); the extra full collections of a heap
 * this small take a few milliseconds each (the sync's time moved within its spread).
 *
 * Set at run time (`v8.setFlagsFromString`): V8 reads this flag at every full
 * collection, so it applies from here on. A `--heap-growing-percent` given on node's
 * command line (or in the companion's `--js-flags`) wins.
 */
import v8 from 'node:v8';

export const HEAP_GROWING_PERCENT = 40;

/** The V8 flag to set, or null when the process's own command line already sets one. Pure. */
export function heapGrowthFlag(commandLine: readonly string[]): string | null {
  if (commandLine.some((a) => /--heap[-_]growing[-_]percent(=|\s|$)/.test(a))) return null;
  return `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

const flag = heapGrowthFlag([...process.execArgv, ...process.argv]);
if (flag !== null) v8.setFlagsFromString(flag);
