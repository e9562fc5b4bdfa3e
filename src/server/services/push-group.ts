/**
 * Group commit (issue 17): pushes that arrive while central's push transactions are
 * busy wait, and the next transaction takes as many of them as fit, so one read, one
 * write and one commit carry many terminals' sales. A push that arrives when a
 * transaction slot is free runs at once: nothing waits for a window.
 *
 * A group's members write disjoint rows and use disjoint change ids, and each
 * terminal has at most one push in a group, so deciding them together is deciding
 * them one after the other; a member that overlaps one already taken waits for the
 * next group. If a group's transaction fails, each of its members runs again alone,
 * so one terminal's bad push fails only that push.
 *
 * `takeGroup` (which members go together) is pure; the class holds the queue.
 */

/** What group formation needs to know of a push. */
export interface GroupKeys {
  readonly terminalId: string;
  /** The rows it writes (keyOf) and its change ids. */
  readonly rows: readonly string[];
  readonly changeIds: readonly string[];
  /** How many changes it applies (a group holds at most maxChanges, or one push). */
  readonly size: number;
}

/**
 * The members of the next group, in arrival order: the first waiting push, then every
 * later one that fits (another terminal, no row or change id in common, within
 * maxChanges). Returns the indexes taken, in order.
 */
export function takeGroup(waiting: readonly GroupKeys[], maxChanges: number, maxMembers: number): number[] {
  const taken: number[] = [];
  const terminals = new Set<string>();
  const rows = new Set<string>();
  const ids = new Set<string>();
  let size = 0;
  for (let i = 0; i < waiting.length && taken.length < maxMembers; i++) {
    const m = waiting[i] as GroupKeys;
    if (taken.length > 0) {
      if (size + m.size > maxChanges || terminals.has(m.terminalId)) continue;
      if (m.rows.some((r) => rows.has(r)) || m.changeIds.some((c) => ids.has(c))) continue;
    }
    taken.push(i);
    terminals.add(m.terminalId);
    for (const r of m.rows) rows.add(r);
    for (const c of m.changeIds) ids.add(c);
    size += m.size;
  }
  return taken;
}

export interface GroupCommitOptions<M> {
  /** Transactions run at once (each carries one group). */
  readonly inFlight: number;
  /** Most changes in one group (a larger push runs alone). */
  readonly maxChanges: number;
  /** Most pushes in one group. */
  readonly maxMembers: number;
  readonly keysOf: (member: M) => GroupKeys;
  /** Applies a group in one transaction (with its own retries); rejects if it could not. */
  readonly run: (members: readonly M[]) => Promise<void>;
  /** Told of each group run (its size), for metrics. */
  readonly onGroup?: (size: number) => void;
}

interface Waiting<M> {
  readonly member: M;
  readonly keys: GroupKeys;
  resolve(): void;
  reject(err: unknown): void;
}

export class GroupCommit<M> {
  private readonly waiting: Waiting<M>[] = [];
  private running = 0;

  constructor(private readonly opts: GroupCommitOptions<M>) {}

  /** Resolves once the member's changes are committed (or rejects with its own failure). */
  submit(member: M): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ member, keys: this.opts.keysOf(member), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.opts.inFlight && this.waiting.length > 0) {
      const taken = takeGroup(
        this.waiting.map((w) => w.keys),
        this.opts.maxChanges,
        this.opts.maxMembers,
      );
      const group: Waiting<M>[] = [];
      for (let k = taken.length - 1; k >= 0; k--) group.unshift(...this.waiting.splice(taken[k] as number, 1));
      this.running++;
      void this.runGroup(group).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async runGroup(group: readonly Waiting<M>[]): Promise<void> {
    this.opts.onGroup?.(group.length);
    try {
      await this.opts.run(group.map((g) => g.member));
      for (const g of group) g.resolve();
      return;
    } catch (err) {
      if (group.length === 1) {
        (group[0] as Waiting<M>).reject(err);
        return;
      }
    }
    // The group failed: each member alone, so only a member that fails by itself fails.
    for (const g of group) {
      try {
        this.opts.onGroup?.(1);
        await this.opts.run([g.member]);
        g.resolve();
      } catch (err) {
        g.reject(err);
      }
    }
  }
}
