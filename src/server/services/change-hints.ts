/**
 * Delivery down is event-driven (DESIGN invariant 11): when changes to a table that
 * terminals pull commit at central, whoever wrote them (the API, a back-office app,
 * plain SQL), the terminals whose scope they touch are told over socket.io
 * (`sync:changes`) and pull that table at once.
 *
 * The change log's triggers NOTIFY each committed statement's (table, store, writer)
 * on CHANGES_CHANNEL (see migrate.ts), so every instance hears every change and hints
 * the terminals connected to it. Hints are coalesced per terminal: the first goes
 * after `leadMs` (a burst of notifications becomes one hint), the next not before
 * `windowMs` has passed, carrying every table announced meanwhile; a bulk import of
 * 100k prices is a handful of hints per terminal, not 100k.
 *
 * A pull serves only changes older than every transaction still running (the gapless
 * cursor, see pull.ts), so a change whose transaction is not below that horizon yet
 * (a long back-office transaction began before it) is hinted once it is: a hint sent
 * earlier would find nothing to pull, and none would follow.
 *
 * A hint is only a hint: a lost one costs latency, never data (the terminal's interval
 * pass and its full pass on every reconnect still pull everything). When the listening
 * connection was lost, notifications may have been missed: every connected terminal
 * is told to pull every table.
 */
import { z } from 'zod';
import { CATALOG, entryForEntity, pullable } from '../../shared/catalog/index.js';
import type { Database } from '../db/database.js';
import { CHANGES_CHANNEL } from '../db/migrate.js';

/**
 * One notification: entity type `t` changed for store `s` (null: global rows) by writer
 * `o`, in transaction `x` (absent from an instance of the version before).
 */
export const Announcement = z.object({ t: z.string(), s: z.string().nullable(), o: z.string().nullable(), x: z.string().regex(/^\d+$/).optional() });
export type Announcement = z.infer<typeof Announcement>;

/** The terminals registered on this instance, by store (a store's few, not the fleet, per announcement). */
export interface HintTargets {
  inStore(storeId: string): Iterable<string>;
  all(): Iterable<string>;
}

/**
 * The terminals an announcement concerns: those of its store, or all for global rows;
 * not the terminal that wrote the change (it has it already).
 */
export function concerned(a: Announcement, targets: HintTargets): string[] {
  const out: string[] = [];
  for (const id of a.s === null ? targets.all() : targets.inStore(a.s)) if (id !== a.o) out.push(id);
  return out;
}

export interface HintTiming {
  /** Delay of a terminal's first hint, gathering a burst (ms). */
  readonly leadMs: number;
  /** Least time between two hints to one terminal (ms); it doubles while many changes keep coming. */
  readonly windowMs: number;
  /** The longest the window grows to during a long import (ms). */
  readonly maxWindowMs: number;
  /** Announcements within one hint that make it busy (the window doubles after it). */
  readonly busyAnnouncements: number;
}

export const DEFAULT_HINT_TIMING: HintTiming = { leadMs: 5, windowMs: 250, maxWindowMs: 4000, busyAnnouncements: 8 };

/**
 * Per terminal: the tables announced since its last hint, sent at most once a window.
 * A hint that gathered many announcements (an import's transactions) doubles the
 * window, up to the maximum, so the hints of a long import grow with the log of its
 * length; one that gathered few (HQ changing a price now and then) sets it back to the
 * shortest, as does a quiet spell of twice the window, so a single change is hinted
 * within the lead time and a trickle within the shortest window.
 */
export class HintCoalescer {
  private readonly pending = new Map<string, Set<string>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly lastSent = new Map<string, number>();
  private readonly windows = new Map<string, number>();
  /** Announcements gathered for each terminal's next hint. */
  private readonly gathered = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly timing: HintTiming,
    private readonly send: (terminalId: string, entityTypes: string[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  add(terminalId: string, entityTypes: Iterable<string>): void {
    if (this.stopped) return;
    const set = this.pending.get(terminalId) ?? new Set<string>();
    for (const t of entityTypes) set.add(t);
    this.pending.set(terminalId, set);
    this.gathered.set(terminalId, (this.gathered.get(terminalId) ?? 0) + 1);
    if (this.timers.has(terminalId)) return;
    const since = this.now() - (this.lastSent.get(terminalId) ?? -Infinity);
    let window = this.windows.get(terminalId) ?? this.timing.windowMs;
    if (since > 2 * window) window = this.timing.windowMs; // quiet since: short again
    this.windows.set(terminalId, window);
    const wait = Math.max(this.timing.leadMs, window - since);
    const timer = setTimeout(() => this.flush(terminalId), wait);
    timer.unref();
    this.timers.set(terminalId, timer);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
  }

  private flush(terminalId: string): void {
    this.timers.delete(terminalId);
    const set = this.pending.get(terminalId);
    this.pending.delete(terminalId);
    if (!set || set.size === 0 || this.stopped) return;
    this.lastSent.set(terminalId, this.now());
    const busy = (this.gathered.get(terminalId) ?? 0) >= this.timing.busyAnnouncements;
    this.gathered.delete(terminalId);
    this.windows.set(terminalId, busy ? Math.min(this.timing.maxWindowMs, 2 * (this.windows.get(terminalId) ?? this.timing.windowMs)) : this.timing.windowMs);
    // Catalog order: a terminal pulls parents before children.
    this.send(
      terminalId,
      CATALOG.filter((e) => set.has(e.entityType)).map((e) => e.entityType),
    );
  }
}

/** Every table terminals pull: what a terminal is told after notifications may have been missed. */
const ALL_PULLED = CATALOG.filter(pullable).map((e) => e.entityType);

/** The pull horizon (see pull.ts); tagged, so a statement count of the push path can tell it apart. */
export const HORIZON_SQL = '/* tillsync:hints */ SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS h';

/** How often announcements held back behind the pull horizon are looked at again (ms). */
const HELD_RECHECK_MS = 100;

export class ChangeHints {
  private unlisten: (() => Promise<void>) | undefined;
  private readonly coalescer: HintCoalescer;
  /** Announcements waiting for their transaction to fall below the pull horizon, one per (table, store, writer): the newest. */
  private held = new Map<string, Announcement>();
  private checking = false;
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly targets: HintTargets,
    send: (terminalId: string, entityTypes: string[]) => void,
    private readonly onBadPayload: (payload: string) => void,
    timing: HintTiming = DEFAULT_HINT_TIMING,
  ) {
    this.coalescer = new HintCoalescer(timing, send);
  }

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(
      CHANGES_CHANNEL,
      (payload) => this.heard(payload),
      () => {
        for (const id of this.targets.all()) this.coalescer.add(id, ALL_PULLED);
      },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.recheck);
    this.coalescer.stop();
    await this.unlisten?.();
  }

  private heard(payload: string): void {
    let a: Announcement;
    try {
      a = Announcement.parse(JSON.parse(payload));
    } catch {
      this.onBadPayload(payload);
      return;
    }
    const entry = entryForEntity(a.t);
    if (!entry || !pullable(entry)) return;
    if (a.x === undefined) return this.hint(a);
    const key = `${a.t}\u0000${a.s ?? ''}\u0000${a.o ?? ''}`;
    const had = this.held.get(key);
    if (!had || BigInt(had.x as string) < BigInt(a.x)) this.held.set(key, a);
    void this.release();
  }

  private hint(a: Announcement): void {
    for (const terminalId of concerned(a, this.targets)) this.coalescer.add(terminalId, [a.t]);
  }

  /**
   * Hints what a pull can serve now (its transaction below the horizon: in the usual
   * case, at once), and looks again shortly at what it cannot yet. One query for every
   * announcement gathered meanwhile.
   */
  private async release(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      while (this.held.size > 0 && !this.closed) {
        const r = await this.db.query<{ h: string }>(HORIZON_SQL);
        const horizon = BigInt(r.rows[0]?.h ?? '0');
        for (const [key, a] of this.held) {
          if (BigInt(a.x as string) < horizon) {
            this.held.delete(key);
            this.hint(a);
          }
        }
        if (this.held.size > 0) {
          clearTimeout(this.recheck);
          this.recheck = setTimeout(() => void this.release(), HELD_RECHECK_MS);
          this.recheck.unref();
          return;
        }
      }
    } catch {
      // The database is away: hint what was held (a pull may find it; the next pass will).
      for (const a of this.held.values()) this.hint(a);
      this.held.clear();
    } finally {
      this.checking = false;
    }
  }
}
