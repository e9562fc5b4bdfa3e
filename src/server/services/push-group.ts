/**
 * Group commit (issue 17): pushes that arrive while central's push transactions are
 * busy wait, and the next transaction takes as many of them as fit, so one read, one
 * write and one commit carry many terminals' sales. A push that arrives when a
 * transaction slot is free runs at once: nothing waits for a window.
 *
 * A group's members write disjoint rows and use disjoint change ids, and each
 * terminal has at most one push in a group, so deciding them together is deciding
 * them one after the other; a member that overlaps one already taken waits for the
 * next group. If a group's transaction fails, each of its members goes back to the
 * head of the queue to run alone, so one terminal's bad push fails only that push.
 *
 * A transaction that runs longer than `stallMs` (it waits for a row lock a back-office
 * transaction holds, say) stops counting against `inFlight`: the next group starts
 * beside it, up to `maxInFlight`, so one stuck row does not hold up every terminal.
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
  /** It runs in a transaction of its own (its group failed). */
  readonly alone?: boolean;
}

/**
 * The members of the next group, in arrival order: the first waiting push (alone if it
 * must be), then every later one that fits (not alone, another terminal, no row or
 * change id in common, within maxChanges). Returns the indexes taken, in order.
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
      if (m.alone || size + m.size > maxChanges || terminals.has(m.terminalId)) continue;
      if (m.rows.some((r) => rows.has(r)) || m.changeIds.some((c) => ids.has(c))) continue;
    }
    taken.push(i);
    if (m.alone) break;
    terminals.add(m.terminalId);
    for (const r of m.rows) rows.add(r);
    for (const c of m.changeIds) ids.add(c);
    size += m.size;
  }
  return taken;
}

export interface GroupCommitOptions<M> {
  /** Transactions run at once (each carries one group), not counting those running longer than stallMs. */
  readonly inFlight: number;
  /** Most transactions at once, however long they run (default inFlight). */
  readonly maxInFlight?: number;
  /** How long a transaction runs before the next group may start beside it (default 200 ms). */
  readonly stallMs?: number;
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
  /** When each running transaction started. */
  private readonly running = new Set<{ readonly startedAt: number }>();
  private recheck: NodeJS.Timeout | undefined;

  constructor(private readonly opts: GroupCommitOptions<M>) {}

  /** Resolves once the member's changes are committed (or rejects with its own failure). */
  submit(member: M): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ member, keys: this.opts.keysOf(member), resolve, reject });
      this.pump();
    });
  }

  private get stallMs(): number {
    return this.opts.stallMs ?? 200;
  }

  private get maxInFlight(): number {
    return Math.max(this.opts.inFlight, this.opts.maxInFlight ?? this.opts.inFlight);
  }

  /** Transactions running for less than stallMs. */
  private fresh(now: number): number {
    let n = 0;
    for (const r of this.running) if (now - r.startedAt < this.stallMs) n++;
    return n;
  }

  private pump(): void {
    const now = Date.now();
    while (this.waiting.length > 0 && this.running.size < this.maxInFlight && this.fresh(now) < this.opts.inFlight) {
      const taken = takeGroup(
        this.waiting.map((w) => w.keys),
        this.opts.maxChanges,
        this.opts.maxMembers,
      );
      const group: Waiting<M>[] = [];
      for (let k = taken.length - 1; k >= 0; k--) group.unshift(...this.waiting.splice(taken[k] as number, 1));
      const slot = { startedAt: now };
      this.running.add(slot);
      void this.runGroup(group).finally(() => {
        this.running.delete(slot);
        this.pump();
      });
    }
    // Pushes wait behind transactions that may stall: look again when the first of those
    // still counted would (one already past stallMs counts no more and is no reason to).
    if (this.waiting.length > 0 && this.running.size < this.maxInFlight && this.recheck === undefined) {
      let due = Infinity;
      for (const r of this.running) if (now - r.startedAt < this.stallMs) due = Math.min(due, r.startedAt + this.stallMs - now);
      if (due !== Infinity) {
        this.recheck = setTimeout(() => {
          this.recheck = undefined;
          this.pump();
        }, Math.max(1, due));
        this.recheck.unref();
      }
    }
  }

  private async runGroup(group: readonly Waiting<M>[]): Promise<void> {
    try {
      this.opts.onGroup?.(group.length);
      await this.opts.run(group.map((g) => g.member));
      for (const g of group) g.resolve();
    } catch (err) {
      if (group.length === 1) {
        (group[0] as Waiting<M>).reject(err);
        return;
      }
      // The group failed: its members go back to the head of the queue, each to run alone,
      // so only a member that fails by itself fails.
      this.waiting.unshift(...group.map((g) => ({ ...g, keys: { ...g.keys, alone: true } })));
    }
  }
}
