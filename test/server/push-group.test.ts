/**
 * Group commit's queue (issue 17, src/server/services/push-group.ts), without a
 * database. `takeGroup` picks the next group: always the first waiting push, then each
 * later one of another terminal that shares no row and no change id with the group and
 * keeps it within maxChanges, at most maxMembers, in arrival order; a push it skips
 * stays for a later group. `GroupCommit` runs groups through a fake `run` whose
 * promises the test settles: pushes that arrive while the transactions are busy go
 * together into the next run; a group whose run fails is run again member by member,
 * and only a member that fails alone is rejected; inFlight groups run at once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GroupCommit, takeGroup, type GroupKeys } from '../../src/server/services/push-group.js';

/** A push's keys: its terminal, the rows it writes, its change ids (size: one change per row unless told). */
function keys(terminalId: string, rows: string[] = [], changeIds: string[] = [], size = Math.max(rows.length, 1)): GroupKeys {
  return { terminalId, rows, changeIds, size };
}

describe('takeGroup', () => {
  it('takes the first waiting push always, even one larger than maxChanges (it then runs alone)', () => {
    expect(takeGroup([keys('A', ['r1'], ['c1'], 50)], 10, 100)).toEqual([0]);
    expect(takeGroup([keys('A', ['r1'], ['c1'], 50), keys('B', ['r2'], ['c2'], 1)], 10, 100)).toEqual([0]);
  });

  it('an empty queue gives an empty group', () => {
    expect(takeGroup([], 10, 100)).toEqual([]);
  });

  it('takes every later push that fits, in arrival order', () => {
    const waiting = [keys('A', ['r1'], ['c1']), keys('B', ['r2'], ['c2']), keys('C', ['r3'], ['c3']), keys('D', ['r4'], ['c4'])];
    expect(takeGroup(waiting, 100, 100)).toEqual([0, 1, 2, 3]);
  });

  it('skips a later push of a terminal already in the group (one push per terminal), and takes pushes after it', () => {
    const waiting = [keys('A', ['r1'], ['c1']), keys('A', ['r2'], ['c2']), keys('B', ['r3'], ['c3'])];
    expect(takeGroup(waiting, 100, 100)).toEqual([0, 2]);
  });

  it('skips a push that writes a row the group writes, whichever member of the group writes it', () => {
    const waiting = [keys('A', ['r1'], ['c1']), keys('B', ['r2'], ['c2']), keys('C', ['r9', 'r2'], ['c3']), keys('D', ['r4'], ['c4'])];
    expect(takeGroup(waiting, 100, 100)).toEqual([0, 1, 3]);
  });

  it('skips a push that uses a change id the group uses', () => {
    const waiting = [keys('A', ['r1'], ['c1', 'c2']), keys('B', ['r2'], ['c2']), keys('C', ['r3'], ['c3'])];
    expect(takeGroup(waiting, 100, 100)).toEqual([0, 2]);
  });

  it("a skipped push's rows and ids do not keep later pushes out", () => {
    // B shares r1 with A and is skipped; C shares r2 and c9 only with B: C is taken.
    const waiting = [keys('A', ['r1'], ['c1']), keys('B', ['r1', 'r2'], ['c2', 'c9']), keys('C', ['r2'], ['c9'])];
    expect(takeGroup(waiting, 100, 100)).toEqual([0, 2]);
  });

  it('skips a push that would take the group past maxChanges, and still takes a smaller one after it', () => {
    const waiting = [keys('A', ['a1', 'a2'], ['ca1', 'ca2']), keys('B', ['b1', 'b2'], ['cb1', 'cb2']), keys('C', ['c1'], ['cc1'])];
    expect(takeGroup(waiting, 3, 100)).toEqual([0, 2]);
    // Exactly maxChanges fits.
    expect(takeGroup(waiting, 4, 100)).toEqual([0, 1]);
  });

  it('takes at most maxMembers pushes', () => {
    const waiting = ['A', 'B', 'C', 'D', 'E'].map((t, i) => keys(t, [`r${i}`], [`c${i}`]));
    expect(takeGroup(waiting, 100, 3)).toEqual([0, 1, 2]);
    expect(takeGroup(waiting, 100, 1)).toEqual([0]);
  });

  it('a push skipped by one call is taken by the next (the queue without the pushes taken)', () => {
    let waiting = [keys('A', ['r1'], ['c1']), keys('A', ['r2'], ['c2']), keys('B', ['r1'], ['c3']), keys('C', ['r4'], ['c4']), keys('A', ['r5'], ['c5'])];
    const groups: string[][] = [];
    const names = new Map(waiting.map((k, i) => [k, `${k.terminalId}${i}`]));
    while (waiting.length > 0) {
      const taken = takeGroup(waiting, 100, 100);
      groups.push(taken.map((i) => names.get(waiting[i] as GroupKeys) as string));
      waiting = waiting.filter((_, i) => !taken.includes(i));
    }
    // The first group: A0 and C3 (A1 is A again, B2 shares r1). Then A1 and B2 together, then A4.
    expect(groups).toEqual([['A0', 'C3'], ['A1', 'B2'], ['A4']]);
  });
});

// ------------------------------------------------------------------ GroupCommit

interface Push {
  readonly name: string;
  readonly keys: GroupKeys;
}

/** A push of terminal `terminal`, writing row `row` with change id `name`. */
const push = (name: string, terminal: string, row = `row-${name}`): Push => ({ name, keys: keys(terminal, [row], [name]) });

interface Deferred {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * A GroupCommit whose `run` is recorded and left pending until the test settles it,
 * unless `decide` settles it at once (an error: rejected; 'hold': left to the test;
 * undefined: resolved). Tracks how many runs are pending.
 */
function harness(inFlight: number, decide?: (members: readonly Push[]) => Error | 'hold' | undefined, maxMembers = 100) {
  const runs: { names: string[]; settle: Deferred }[] = [];
  const groupSizes: number[] = [];
  let pending = 0;
  let mostAtOnce = 0;
  const gc = new GroupCommit<Push>({
    inFlight,
    maxChanges: 1000,
    maxMembers,
    keysOf: (p) => p.keys,
    run: (members) =>
      new Promise<void>((resolve, reject) => {
        pending++;
        mostAtOnce = Math.max(mostAtOnce, pending);
        const settle: Deferred = {
          resolve: () => {
            pending--;
            resolve();
          },
          reject: (err) => {
            pending--;
            reject(err);
          },
        };
        runs.push({ names: members.map((m) => m.name), settle });
        if (!decide) return;
        const verdict = decide(members);
        if (verdict instanceof Error) settle.reject(verdict);
        else if (verdict !== 'hold') settle.resolve();
      }),
    onGroup: (size) => groupSizes.push(size),
  });
  /** Submits a push; its outcome is recorded as 'ok' or the error's message. */
  const outcomes = new Map<string, string>();
  const submit = (p: Push) =>
    gc.submit(p).then(
      () => void outcomes.set(p.name, 'ok'),
      (err: Error) => void outcomes.set(p.name, err.message),
    );
  return {
    gc,
    runs,
    groupSizes,
    outcomes,
    submit,
    get pending() {
      return pending;
    },
    get mostAtOnce() {
      return mostAtOnce;
    },
  };
}

/** Lets every promise callback queued so far run (and those they queue), a bounded number of turns. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

describe('GroupCommit', () => {
  it('with one transaction at a time, pushes that arrive while it runs go together into the next run', async () => {
    const h = harness(1);
    const all = [h.submit(push('a', 'A'))];
    // The first push runs at once, alone: nothing waits for a window.
    expect(h.runs.map((r) => r.names)).toEqual([['a']]);
    all.push(h.submit(push('b', 'B')), h.submit(push('c', 'C')), h.submit(push('b2', 'B')), h.submit(push('d', 'D', 'row-c')));
    await flush();
    expect(h.runs).toHaveLength(1); // still busy: the others wait
    expect(h.outcomes.size).toBe(0);

    h.runs[0]?.settle.resolve();
    await flush();
    // b, c together; b2 (B again) and d (c's row) wait for the group after.
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b', 'c']]);
    expect([...h.outcomes]).toEqual([['a', 'ok']]);

    h.runs[1]?.settle.resolve();
    await flush();
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b', 'c'], ['b2', 'd']]);
    h.runs[2]?.settle.resolve();
    await Promise.all(all);
    expect(Object.fromEntries(h.outcomes)).toEqual({ a: 'ok', b: 'ok', c: 'ok', b2: 'ok', d: 'ok' });
    expect(h.groupSizes).toEqual([1, 2, 2]);
    expect(h.mostAtOnce).toBe(1);
  });

  it('a member is told it is done only when its group run is', async () => {
    const h = harness(1);
    const a = h.submit(push('a', 'A'));
    const b = h.submit(push('b', 'B'));
    h.runs[0]?.settle.resolve();
    await a;
    await flush();
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b']]);
    expect(h.outcomes.has('b')).toBe(false);
    h.runs[1]?.settle.resolve();
    await b;
    expect(h.outcomes.get('b')).toBe('ok');
  });

  it('respects maxMembers: the rest wait for the next group', async () => {
    const h = harness(1, undefined, 2);
    const all = [h.submit(push('a', 'A'))];
    for (const [n, t] of [['b', 'B'], ['c', 'C'], ['d', 'D']] as const) all.push(h.submit(push(n, t)));
    h.runs[0]?.settle.resolve();
    await flush();
    h.runs[1]?.settle.resolve();
    await flush();
    h.runs[2]?.settle.resolve();
    await Promise.all(all);
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('a group whose run fails is run again member by member: only the member that fails alone is rejected, with its own error', async () => {
    // The blocker's run waits for the test; any other run holding "bad" fails at once, naming what it held.
    const h = harness(1, (members) => {
      if (members[0]?.name === 'blocker') return 'hold';
      return members.some((m) => m.name === 'bad') ? new Error(`failed: ${members.map((m) => m.name).join(',')}`) : undefined;
    });
    const all = [h.submit(push('blocker', 'Z')), h.submit(push('ok1', 'A')), h.submit(push('bad', 'B')), h.submit(push('ok2', 'C'))];
    await flush();
    h.runs[0]?.settle.resolve();
    await Promise.all(all);
    expect(h.runs.map((r) => r.names)).toEqual([['blocker'], ['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']]);
    expect(Object.fromEntries(h.outcomes)).toEqual({ blocker: 'ok', ok1: 'ok', bad: 'failed: bad', ok2: 'ok' });
    // Each run is told to onGroup: the blocker, the group of three, then each member alone.
    expect(h.groupSizes).toEqual([1, 3, 1, 1, 1]);
  });

  it('a group whose members all fail alone rejects each with its own error', async () => {
    const h = harness(1, (members) => (members[0]?.name === 'blocker' ? 'hold' : new Error(`failed: ${members.map((m) => m.name).join(',')}`)));
    const all = [h.submit(push('blocker', 'Z')), h.submit(push('x', 'A')), h.submit(push('y', 'B'))];
    await flush();
    h.runs[0]?.settle.resolve();
    await Promise.all(all);
    expect(Object.fromEntries(h.outcomes)).toEqual({ blocker: 'ok', x: 'failed: x', y: 'failed: y' });
  });

  it('a group of one whose run fails rejects that member (no second run), and the queue goes on', async () => {
    const h = harness(1);
    const a = h.submit(push('a', 'A'));
    const b = h.submit(push('b', 'B'));
    h.runs[0]?.settle.reject(new Error('a broke'));
    await a;
    await flush();
    expect(h.outcomes.get('a')).toBe('a broke');
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b']]);
    h.runs[1]?.settle.resolve();
    await b;
    expect(h.outcomes.get('b')).toBe('ok');
    expect(h.groupSizes).toEqual([1, 1]);
  });

  it('with two transactions at once, two groups run at the same time, and the next group forms from what waits meanwhile', async () => {
    const h = harness(2);
    const all = [h.submit(push('a', 'A')), h.submit(push('b', 'B'))];
    // Both run at once, each alone (a slot was free for each on arrival).
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b']]);
    expect(h.pending).toBe(2);
    all.push(h.submit(push('c', 'C')), h.submit(push('d', 'D')), h.submit(push('e', 'E')));
    await flush();
    expect(h.runs).toHaveLength(2);
    h.runs[1]?.settle.resolve(); // b's run ends first
    await flush();
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    expect(h.pending).toBe(2); // a's and the new group's
    all.push(h.submit(push('f', 'F')));
    await flush();
    expect(h.runs).toHaveLength(3);
    h.runs[0]?.settle.resolve();
    await flush();
    expect(h.runs.map((r) => r.names)).toEqual([['a'], ['b'], ['c', 'd', 'e'], ['f']]);
    h.runs[2]?.settle.resolve();
    h.runs[3]?.settle.resolve();
    await Promise.all(all);
    expect(h.mostAtOnce).toBe(2);
    expect(Object.fromEntries(h.outcomes)).toEqual({ a: 'ok', b: 'ok', c: 'ok', d: 'ok', e: 'ok', f: 'ok' });
  });
});

describe('GroupCommit with a transaction that stalls', () => {
  // Also after a test that timed out (its finally never runs): the next file in this worker needs real timers.
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a transaction running past stallMs stops counting: the next group starts beside it, up to maxInFlight; a waiting push wakes the queue only when a counted one would stall', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const started: string[][] = [];
      const settles: (() => void)[] = [];
      const gc = new GroupCommit<Push>({
        inFlight: 1,
        maxInFlight: 3,
        stallMs: 100,
        maxChanges: 1000,
        maxMembers: 100,
        keysOf: (p) => p.keys,
        run: (members) =>
          new Promise<void>((resolve) => {
            started.push(members.map((m) => m.name));
            settles.push(resolve);
          }),
      });
      const done = [gc.submit(push('a', 'A')), gc.submit(push('b', 'B'))];
      expect(started).toEqual([['a']]);
      await vi.advanceTimersByTimeAsync(99);
      expect(started).toEqual([['a']]); // a still counts: b waits
      await vi.advanceTimersByTimeAsync(2);
      expect(started).toEqual([['a'], ['b']]); // a ran past 100 ms: b starts beside it
      done.push(gc.submit(push('c', 'C')));
      // b counts now: c waits for b to stall, and nothing wakes the queue before then
      // (a, past stallMs already, is no reason to look again every millisecond).
      // Counted through a wrapper put back by hand: a vi.spyOn over the fake timer, once
      // restored, left the fake installed for good (the next test file run in the same
      // worker, without isolation, waited forever on setTimeout).
      const fakeSetTimeout = globalThis.setTimeout;
      let timerCalls = 0;
      globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
        timerCalls++;
        return fakeSetTimeout(...args);
      }) as typeof setTimeout;
      try {
        await vi.advanceTimersByTimeAsync(50);
      } finally {
        globalThis.setTimeout = fakeSetTimeout;
      }
      expect(started).toEqual([['a'], ['b']]);
      expect(timerCalls).toBeLessThanOrEqual(1);
      await vi.advanceTimersByTimeAsync(60);
      expect(started).toEqual([['a'], ['b'], ['c']]); // b stalled too
      // Three at once is the most, stalled or not: d waits until one ends.
      done.push(gc.submit(push('d', 'D')));
      await vi.advanceTimersByTimeAsync(500);
      expect(started).toHaveLength(3);
      settles[0]?.();
      await vi.advanceTimersByTimeAsync(0);
      expect(started).toEqual([['a'], ['b'], ['c'], ['d']]);
      for (const s of settles) s();
      await vi.advanceTimersByTimeAsync(0);
      await Promise.all(done);
    } finally {
      vi.useRealTimers();
    }
  });
});
