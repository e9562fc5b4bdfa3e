/**
 * What the companion's updater asks the till before downloading or installing a new
 * version (update-decision.ts decides): how many CRITICAL changes (completed sales,
 * payments) are not at central yet, and when the POS last wrote a synced row. Reads only.
 */
import { PRIORITY } from '../../shared/catalog/index.js';
import type { StoreBase } from './store/base.js';

export interface UpdateGate {
  /** CRITICAL changes captured or waiting in the outbox (backoff included) that central has not answered. */
  readonly criticalPending: number;
  /** When the newest change was captured (ISO), or null when the till has none. */
  readonly lastChangeAt: string | null;
}

export function readUpdateGate(base: Pick<StoreBase, 'stmt'>): UpdateGate {
  const n = base
    .stmt(
      `SELECT (SELECT count(*) FROM tillsync_capture WHERE priority >= ?)
            + (SELECT count(*) FROM tillsync_outbox WHERE status = 'pending' AND priority >= ?) AS n`,
    )
    .get(PRIORITY.CRITICAL, PRIORITY.CRITICAL) as { n: number };
  const last = base
    .stmt(
      `SELECT max(t) AS t FROM (
         SELECT captured_at AS t FROM tillsync_capture WHERE id = (SELECT max(id) FROM tillsync_capture)
         UNION ALL SELECT created_at FROM tillsync_outbox WHERE id = (SELECT max(id) FROM tillsync_outbox))`,
    )
    .get() as { t: string | null };
  return { criticalPending: n.n, lastChangeAt: last.t };
}
