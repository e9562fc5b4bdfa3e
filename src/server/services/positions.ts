/**
 * Where each terminal pulls each table from, for the purge (sync_pull_positions). A
 * pull's cursor proves the terminal has applied the log up to it, so its position is
 * the cursor it pulls with (a snapshot read's: the point its read hands over to the
 * log). Kept in memory and written once a second, in one statement for every terminal
 * that pulled: a pull stays a read, and a position written a moment late only holds
 * the purge back a moment more.
 */
import type { Database } from '../db/database.js';

interface Position {
  readonly terminalId: string;
  readonly entityType: string;
  readonly txid: string;
  readonly seq: number;
}

export const UPSERT_POSITIONS = `INSERT INTO sync_pull_positions (terminal_id, entity_type, txid, seq, seen_at)
  SELECT t, e, x::xid8, s, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS p(t, e, x, s)
  ON CONFLICT (terminal_id, entity_type) DO UPDATE SET txid = excluded.txid, seq = excluded.seq, seen_at = excluded.seen_at`;

export class PullPositions {
  private pending = new Map<string, Position>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs = 1000,
  ) {}

  /** The terminal pulls `entityType` from (txid, seq): the latest pull's position is kept. */
  record(terminalId: string, entityType: string, txid: string, seq: number): void {
    const key = `${terminalId}\u0000${entityType}`;
    this.pending.delete(key);
    this.pending.set(key, { terminalId, entityType, txid, seq });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch(this.onError);
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes the positions recorded so far (after any write under way). */
  flush(): Promise<void> {
    const run = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = [...this.pending.values()];
      this.pending = new Map();
      try {
        await this.db.query(UPSERT_POSITIONS, [
          batch.map((p) => p.terminalId),
          batch.map((p) => p.entityType),
          batch.map((p) => p.txid),
          batch.map((p) => p.seq),
        ]);
      } catch (err) {
        // Kept for the next write, unless a newer pull replaced them meanwhile.
        for (const p of batch) {
          const key = `${p.terminalId}\u0000${p.entityType}`;
          if (!this.pending.has(key)) this.pending.set(key, p);
        }
        throw err;
      }
    });
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush().catch(this.onError);
  }
}
