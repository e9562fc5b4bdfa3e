/**
 * The fleet's rollout, one row in central's database: what an admin sets (a version
 * for a percentage of the tills over the previous one, store pins, pause) and the
 * rollback. `nextRollout` and `rolledBack` decide the new state (pure); the store
 * reads and writes it.
 */
import type { Rollout, RolloutPatch } from '../../shared/update-protocol.js';
import type { Database, Queryable } from '../db/database.js';
import { conflict } from '../errors.js';

export const NO_ROLLOUT: Rollout = {
  version: null,
  previous: null,
  percentage: 0,
  paused: false,
  rolledBack: false,
  rolledBackFrom: null,
  stores: {},
  updatedAt: null,
};

/**
 * The rollout after an admin's change (pure). A new version starts a rollout of it at
 * `percentage` (0 unless given) over `previous` (the version the fleet was on unless
 * given), not paused; otherwise the fields given change. Store pins merge (null clears one).
 */
export function nextRollout(current: Rollout, patch: RolloutPatch): Rollout {
  const stores = { ...current.stores };
  for (const [store, version] of Object.entries(patch.stores ?? {})) {
    if (version === null) delete stores[store];
    else stores[store] = version;
  }
  if (patch.version !== undefined && patch.version !== current.version) {
    return {
      version: patch.version,
      previous: patch.previous !== undefined ? patch.previous : current.version,
      percentage: patch.percentage ?? 0,
      paused: patch.paused ?? false,
      rolledBack: false,
      rolledBackFrom: null,
      stores,
      updatedAt: current.updatedAt,
    };
  }
  return {
    ...current,
    previous: patch.previous !== undefined ? patch.previous : current.previous,
    percentage: patch.percentage ?? current.percentage,
    paused: patch.paused ?? current.paused,
    stores,
  };
}

/** The rollout undone (pure): every till not pinned goes back to the previous version. 409 when there is none. */
export function rolledBack(current: Rollout): Rollout {
  if (current.rolledBack) throw conflict('ALREADY_ROLLED_BACK', `the rollout of ${current.rolledBackFrom ?? '?'} is rolled back already; start a new one`);
  if (current.version === null || current.previous === null) {
    throw conflict('NOTHING_TO_ROLL_BACK', 'the rollout has no previous version to go back to');
  }
  return {
    ...current,
    version: current.previous,
    previous: null,
    percentage: 100,
    paused: false,
    rolledBack: true,
    rolledBackFrom: current.version,
  };
}

interface RolloutRow {
  version: string | null;
  previous: string | null;
  percentage: number;
  paused: boolean;
  rolled_back_from: string | null;
  stores: Record<string, string> | string;
  updated_at: string | Date;
}

export class RolloutStore {
  constructor(private readonly db: Database) {}

  async get(q: Queryable = this.db): Promise<Rollout> {
    const r = await q.query<RolloutRow>('SELECT * FROM sync_update_rollout WHERE id = 1');
    const row = r.rows[0];
    if (!row) return NO_ROLLOUT;
    return {
      version: row.version,
      previous: row.previous,
      percentage: row.percentage,
      paused: row.paused,
      rolledBack: row.rolled_back_from !== null,
      rolledBackFrom: row.rolled_back_from,
      stores: typeof row.stores === 'string' ? (JSON.parse(row.stores) as Record<string, string>) : row.stores,
      updatedAt: row.updated_at instanceof Date ? row.updated_at.toISOString() : new Date(row.updated_at).toISOString(),
    };
  }

  /**
   * Changes the rollout as `change` decides from the current one, in one transaction
   * (two admins at once: one after the other). `check` may refuse the new state.
   */
  async change(change: (current: Rollout) => Rollout, check: (next: Rollout, q: Queryable) => Promise<void>): Promise<Rollout> {
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO sync_update_rollout (id) VALUES (1) ON CONFLICT (id) DO NOTHING');
      await tx.query('SELECT id FROM sync_update_rollout WHERE id = 1 FOR UPDATE');
      const next = change(await this.get(tx));
      await check(next, tx);
      await tx.query(
        `UPDATE sync_update_rollout SET version = $1, previous = $2, percentage = $3, paused = $4, rolled_back_from = $5, stores = $6::jsonb, updated_at = now() WHERE id = 1`,
        [next.version, next.previous, next.percentage, next.paused, next.rolledBackFrom, JSON.stringify(next.stores)],
      );
    });
    return this.get();
  }
}
