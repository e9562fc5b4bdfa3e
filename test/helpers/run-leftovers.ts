/**
 * Things a test run names after its own process (`<prefix><pid>`: its build, its
 * PostgreSQL template) and removes at its end; a run killed before its end leaves
 * them, and the next run removes those whose run is gone, never a running run's.
 */

/** Whether a process with this id is running (signal 0 only asks). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Of `names`, those with `prefix` whose run is gone (or whose suffix is no process id). */
export function leftoversOfRuns(names: readonly string[], prefix: string, isRunning: (pid: number) => boolean = processRunning): string[] {
  return names.filter((n) => {
    if (!n.startsWith(prefix)) return false;
    const suffix = n.slice(prefix.length);
    const pid = Number(suffix);
    return !/^\d+$/.test(suffix) || pid <= 0 || !isRunning(pid);
  });
}
