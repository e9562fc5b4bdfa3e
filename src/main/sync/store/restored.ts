/**
 * Central was restored from a backup (central answers a pull cursor of an earlier
 * restore generation with CENTRAL_RESTORED and its epoch now; src/server/services/epoch.ts).
 * Central's change log has lost what came after the backup, and hands the lost
 * transaction ids and row versions out again, so neither this till's cursors nor the
 * versions it holds say anything about central any more. Once per epoch, in one
 * transaction:
 *
 * - every pulled table is re-read from a snapshot with the versions held forgotten
 *   (store/resync.ts): the till ends with central's restored rows (an HQ change the
 *   restore lost is undone here; a row the restore brought back comes back), and the
 *   change log after the snapshot brings every change made since, none skipped;
 * - every change of a table the till is the source of truth of (direction up: sales,
 *   their lines and payments, stock movements, receipts) that central accepted and the
 *   till still keeps (synced entries are kept for the retention, 7 days by default) is
 *   sent again as it was sent (same change id, same content, in capture order):
 *   central answers `duplicate` for what it still has (the till changes nothing then:
 *   answers.ts) and applies what it lost. Changes of tables both sides write
 *   (products, customers, stock) are not sent again: their old images, built on
 *   versions central now hands out to other contents, could overwrite HQ's later
 *   edits; the re-read brings central's rows instead.
 * - a row of those tables the re-read did not bring back (central lost it: HQ added it,
 *   or the till did, after the backup) is not dropped, as a sale the till rang up with it
 *   points at it: the till gives its image back to central as a CREATE (store/pages.ts
 *   dropNotBrought), at GIVEN_BACK_PRIORITY, above every sale. A row of a table only
 *   central writes (direction down: users, categories, ...) the re-read did not bring is
 *   kept as it is (the till cannot give it back): central takes a sale pointing at it
 *   through an optional key as it is (the key points at a row central no longer has until
 *   HQ adds it again) and answers MISSING_PARENT through a required one (a store), so
 *   that change waits and goes again.
 * - the sales (every table of `resentTables`) wait while a table terminals also push is
 *   re-read after the restore (`salesHeldBack`), so the rows given back reach central
 *   before the sales pointing at them, not MISSING_PARENT after them.
 * - the epoch is noted in the till's meta, so a restart mid-way goes on (the re-reads
 *   and the pending changes are in the file) and does not begin again.
 */
import { CATALOG, entryForTable, PRIORITY, pullable, pushable } from '../../../shared/catalog/index.js';
import type { StoreBase } from './base.js';
import type { Outbox } from './outbox.js';
import type { Resync } from './resync.js';

/** The meta key of the restore generation this till last caught up with. */
export const EPOCH_KEY = 'central_epoch';

/** Tables whose accepted changes go again after a restore (pure): those only terminals write (direction up). */
export function resentTables(tables: Iterable<string>): string[] {
  const local = new Set(tables);
  return CATALOG.filter((e) => local.has(e.table) && pushable(e) && !pullable(e)).map((e) => e.table);
}

/** Tables re-read after a restore (pure): every pulled one the till has. */
export function rereadTables(tables: Iterable<string>): string[] {
  const local = new Set(tables);
  return CATALOG.filter((e) => local.has(e.table) && pullable(e)).map((e) => e.table);
}

/**
 * The outbox priority of a row given back to central after its restore: above every
 * sale's (CRITICAL), so a batch takes it before the sales sent again that point at it
 * (sendOrder then puts parents first within a batch). The change still goes as CRITICAL.
 */
export const GIVEN_BACK_PRIORITY = PRIORITY.CRITICAL + 1;

/**
 * The tables whose changes wait for now (pure): while a table terminals also push is
 * re-read after the restore (and not paused), rows of it central lost may still be
 * given back, so the sales (`resentTables`) wait for them; none otherwise.
 */
export function salesHeldBack(rereading: Iterable<string>, paused: ReadonlySet<string>, tables: Iterable<string>): string[] {
  for (const t of rereading) {
    const e = entryForTable(t);
    if (e && pushable(e) && pullable(e) && !paused.has(t)) return resentTables(tables);
  }
  return [];
}

export interface CaughtUp {
  readonly epoch: number;
  /** Tables re-read from a snapshot. */
  readonly tables: number;
  /** Outbox entries sent again. */
  readonly resent: number;
}

export class Restored {
  constructor(
    private readonly base: StoreBase,
    private readonly outbox: Outbox,
    private readonly resync: Resync,
  ) {}

  /** The restore generation this till caught up with last (null: none yet). */
  epochSeen(): number | null {
    const v = this.base.getMeta(EPOCH_KEY);
    return v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : null;
  }

  /**
   * Catches up with central's restore generation `epoch` (see above), in one
   * transaction. Null when the till has already caught up with it.
   */
  catchUp(epoch: number): CaughtUp | null {
    return this.base.db
      .transaction((): CaughtUp | null => {
        if (this.epochSeen() === epoch) return null;
        const names = [...this.base.tables.keys()];
        const reread = rereadTables(names);
        for (const t of reread) this.resync.start(t, { forgetVersions: true });
        const resent = this.outbox.resendAccepted(resentTables(names), `sent again: central was restored from a backup (epoch ${epoch})`);
        this.base.setMeta(EPOCH_KEY, String(epoch));
        return { epoch, tables: reread.length, resent };
      })
      .immediate();
  }
}
