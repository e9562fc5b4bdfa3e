/**
 * Notices other processes' commits to the POS file (SQLite's data_version) and moves
 * what they captured into the outbox at once, online or not, so the capture log stays
 * short; then reports the commit (the scheduler shows the new counts and pushes).
 */
import type { Logger } from 'pino';
import type { CapturePort } from './ports.js';

export class CommitWatcher {
  private lastDataVersion = -1;

  constructor(
    private readonly capture: Pick<CapturePort, 'dataVersion' | 'promote'>,
    private readonly log: Logger,
    /** Called after a commit's captured writes were moved into the outbox. */
    private readonly committed: () => void,
  ) {}

  /** Commits from now on are news. */
  start(): void {
    this.lastDataVersion = this.capture.dataVersion();
  }

  /** One look at the file (on the watch timer). */
  check(): void {
    let v: number;
    try {
      v = this.capture.dataVersion();
    } catch {
      return;
    }
    if (v === this.lastDataVersion) return;
    // A busy file is tried again on the next tick.
    try {
      this.capture.promote();
    } catch (err) {
      this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not move captured writes into the outbox yet');
      return;
    }
    this.lastDataVersion = v;
    this.committed();
  }
}
