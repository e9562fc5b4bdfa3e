/**
 * Races on PostgreSQL row locks: another writer's transaction that holds its rows open,
 * and how many sessions wait on a lock meanwhile.
 */
import type { Database, Queryable } from '../../src/server/db/database.js';

/** Sessions of the test database waiting on a lock (PostgreSQL). */
export async function lockWaits(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
  return Number(r.rows[0]?.n);
}

/** A transaction that has done its writes and stays open, holding their locks, until released. */
export interface HeldTransaction {
  /** Lets it commit. Safe to call more than once. */
  release(): void;
  /** Settles once it has committed (or failed). */
  readonly done: Promise<void>;
}

/**
 * Runs `write` in a transaction of `db` and keeps that transaction open (uncommitted,
 * its row locks held) until `release()`; resolves once `write` is done. Rejects if
 * `write` fails.
 */
export async function holdOpen(db: Database, write: (tx: Queryable) => Promise<unknown>): Promise<HeldTransaction> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let written!: () => void;
  let failed!: (err: unknown) => void;
  const wrote = new Promise<void>((resolve, reject) => {
    written = resolve;
    failed = reject;
  });
  const done = db.transaction(async (tx) => {
    try {
      await write(tx);
    } catch (err) {
      failed(err);
      throw err;
    }
    written();
    await gate;
  });
  done.catch(() => undefined);
  await wrote;
  return { release, done };
}
