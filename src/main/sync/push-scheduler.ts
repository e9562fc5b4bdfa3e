/**
 * When the engine pushes while online (DESIGN invariant 11: delivery is event-driven,
 * the interval is the safety net). Every commit the watcher sees is noted here:
 *
 * - CRITICAL changes (a completed sale, a payment) are pushed at once;
 * - in `prompt` mode (the default) everything else follows within `delayMs`,
 *   coalesced: the commits of that window go in one push, in tier order (a batch takes
 *   the highest priorities first);
 * - in `cadence` mode only CRITICAL is pushed on commit; the other tiers wait for the
 *   seed's cycles (MEDIUM every 2nd, LOW every 5th), for sites on metered links.
 *
 * A wish to push is a flag, not an event: a commit noted while a push (or a whole
 * pass) runs is pushed by another push after it, never dropped, whatever is running.
 * Entries waiting out a backoff wake the scheduler when they are due.
 */
import { PRIORITY } from '../../shared/catalog/index.js';

export const PUSH_MODES = ['prompt', 'cadence'] as const;
export type PushMode = (typeof PUSH_MODES)[number];

export interface PushPorts {
  /** Whether pushing makes sense now (online, not paused, not stopped). */
  ready(): boolean;
  /** Whether anything at or above the priority is ready to push. */
  hasPending(minPriority: number): boolean;
  /** When the earliest entry waiting out a backoff may go (ms since epoch), or null. */
  nextAttemptAt(): number | null;
  /** Pushes what is pending from `minPriority` up (on the engine's push lane). */
  push(minPriority: number, urgent: boolean): Promise<unknown>;
}

export class PushScheduler {
  private wantUrgent = false;
  private wantRest = false;
  private restTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private stopped = false;

  constructor(
    private readonly mode: PushMode,
    private readonly delayMs: number,
    private readonly ports: PushPorts,
  ) {}

  /** Something was committed (or became due): decide what to push, and when. */
  noteCommit(): void {
    if (this.stopped) return;
    if (this.ports.hasPending(PRIORITY.CRITICAL)) this.wantUrgent = true;
    if (this.mode === 'prompt' && !this.wantRest && !this.restTimer && this.ports.hasPending(0)) {
      this.restTimer = setTimeout(() => {
        this.restTimer = undefined;
        this.wantRest = true;
        this.drain();
      }, this.delayMs);
      this.restTimer.unref();
    }
    this.drain();
  }

  /** Pushes what was wished for, one push after another, until no wish is left. */
  drain(): void {
    if (this.draining || this.stopped) return;
    // Set before the loop starts: a loop with nothing to do ends synchronously.
    this.draining = true;
    void (async () => {
      try {
        while (!this.stopped && this.ports.ready() && (this.wantUrgent || this.wantRest)) {
          // CRITICAL alone first: a sale never waits behind a batch of lower tiers.
          const urgent = this.wantUrgent;
          if (urgent) this.wantUrgent = false;
          else this.wantRest = false;
          await this.ports.push(urgent ? PRIORITY.CRITICAL : 0, urgent).catch(() => undefined);
        }
      } finally {
        this.draining = false;
        this.wakeForRetries();
      }
    })();
  }

  /** Stops every timer; a push in flight finishes. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.restTimer);
    clearTimeout(this.retryTimer);
  }

  /** Entries backing off after a failed push are pushed when they are due, not at the next interval. */
  private wakeForRetries(): void {
    if (this.stopped || this.retryTimer) return;
    const at = this.ports.nextAttemptAt();
    if (at === null) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.noteCommit();
      },
      Math.max(0, at - Date.now()) + 5,
    );
    this.retryTimer.unref();
  }
}
