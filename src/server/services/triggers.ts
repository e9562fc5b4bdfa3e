/**
 * Sync triggers: recorded in PostgreSQL, announced with NOTIFY, so a trigger asked
 * of any instance reaches a terminal connected to any other, and a terminal that
 * connects later still gets what it has not acknowledged.
 */
import { randomUUID } from 'node:crypto';
import type { SyncTrigger, SyncType } from '../../shared/protocol.js';
import type { Database } from '../db/database.js';

export const TRIGGER_CHANNEL = 'tillsync_sync_trigger';

interface TriggerRow {
  id: string;
  terminal_id: string;
  type: SyncType;
  reason: string;
  created_at: string;
}

const toPayload = (r: TriggerRow): SyncTrigger => ({
  type: r.type,
  terminalId: r.terminal_id,
  timestamp: r.created_at,
  reason: r.reason,
  triggerId: r.id,
});

export class TriggerService {
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly ttlSeconds: number,
  ) {}

  /** Calls `deliver` for every trigger any instance records from now on. */
  async subscribe(deliver: (t: SyncTrigger) => void, onError: (err: unknown) => void): Promise<void> {
    this.unlisten = await this.db.listen(TRIGGER_CHANNEL, (batchId) => {
      this.db
        .query<TriggerRow>('SELECT id, terminal_id, type, reason, created_at FROM sync_triggers WHERE batch_id = $1', [batchId])
        .then((r) => r.rows.forEach((row) => deliver(toPayload(row))))
        .catch(onError);
    });
  }

  async close(): Promise<void> {
    await this.unlisten?.();
  }

  /** Records a trigger per terminal and announces them; returns the terminal ids. */
  async trigger(terminalIds: readonly string[], type: SyncType, reason: string): Promise<string[]> {
    if (terminalIds.length === 0) return [];
    const batchId = randomUUID();
    await this.db.query(
      `INSERT INTO sync_triggers (id, batch_id, terminal_id, type, reason)
       SELECT gen_random_uuid()::text, $1, t, $2, $3 FROM unnest($4::text[]) AS t`,
      [batchId, type, reason, terminalIds],
    );
    await this.db.notify(TRIGGER_CHANNEL, batchId);
    return [...terminalIds];
  }

  /** Unacknowledged triggers of a terminal younger than the TTL, oldest first. */
  async pending(terminalId: string): Promise<SyncTrigger[]> {
    const r = await this.db.query<TriggerRow>(
      `SELECT id, terminal_id, type, reason, created_at FROM sync_triggers
       WHERE terminal_id = $1 AND acked_at IS NULL AND created_at > now() - make_interval(secs => $2)
       ORDER BY created_at`,
      [terminalId, this.ttlSeconds],
    );
    return r.rows.map(toPayload);
  }

  /** Marks one trigger, or every open trigger of that type, acknowledged. */
  async ack(terminalId: string, type: SyncType, triggerId?: string): Promise<number> {
    const r = triggerId
      ? await this.db.query('UPDATE sync_triggers SET acked_at = now() WHERE id = $1 AND terminal_id = $2 AND acked_at IS NULL RETURNING id', [
          triggerId,
          terminalId,
        ])
      : await this.db.query(
          'UPDATE sync_triggers SET acked_at = now() WHERE terminal_id = $1 AND type = $2 AND acked_at IS NULL RETURNING id',
          [terminalId, type],
        );
    return r.rows.length;
  }
}
