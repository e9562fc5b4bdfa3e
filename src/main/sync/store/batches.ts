/**
 * Choosing and building the next batch from the outbox (the rules are batch-rules.ts's).
 * Every statement goes through an index, so choosing costs the batch, not the backlog.
 */
import { type CatalogEntry, type WireRow } from '../../../shared/catalog/index.js';
import { localToWire, type LocalRow } from '../mapping.js';
import { GROUP_KEY } from '../schema.js';
import type { LocalTable, StoreBase } from './base.js';
import { byRow, groupKey, groupOf, lastImage, planRow, rowKey, sendOrder, waitingGroups, type InFlight, type OutgoingBatch, type OutgoingChange } from './batch-rules.js';
import type { Capture } from './capture.js';
import type { Outbox } from './outbox.js';
import { ENTRY_COLUMNS, entryOfRow, type OutboxEntry } from './outbox-status.js';
import { salesHeldBack } from './restored.js';
import { restoreRereadsOf } from './resync.js';

const ELIGIBLE = `status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND id <= ? AND table_name NOT IN (SELECT value FROM json_each(?))`;

/**
 * How a batch is chosen: every statement goes through an index (the queue's, or the
 * pending entries by group), so choosing costs the batch, not the backlog (a test
 * checks their query plans).
 */
export const BATCH_SQL = {
  /** The next priority level with pending entries, below the last one. */
  nextLevel: `SELECT max(priority) AS p FROM tillsync_outbox WHERE status = 'pending' AND priority >= ? AND priority < ?`,
  /** Eligible entries of one level in capture order, a page at a time. */
  levelPage: `SELECT id, ${GROUP_KEY} AS g FROM tillsync_outbox WHERE ${ELIGIBLE} AND priority = ? AND id > ? ORDER BY priority, id LIMIT 500`,
  /** How many eligible entries each group of a JSON array (bound last) has: one statement for a page's new groups. */
  groupSizes: `SELECT g.value AS g, (SELECT count(*) FROM tillsync_outbox WHERE ${GROUP_KEY} = g.value AND ${ELIGIBLE}) AS n FROM json_each(?) AS g ORDER BY g.key`,
  /**
   * The batch's rows' entries sent before and still pending, newest first (from the rows
   * into the row index: with a batch at central there are many pending sent entries,
   * and a plan from them into the rows would read them all for every batch).
   */
  earlierAttempts: `SELECT o.table_name, o.server_id, o.sent_as, o.next_attempt_at FROM json_each(?) AS k
    CROSS JOIN tillsync_outbox AS o INDEXED BY tillsync_outbox_row_idx
    WHERE o.table_name = k.value ->> 0 AND o.server_id = k.value ->> 1 AND o.status = 'pending' AND o.sent_as IS NOT NULL ORDER BY o.id DESC`,
  /**
   * How many entries of the groups at central (a JSON array) were never sent, up to the
   * pass's last entry, paused tables' (a JSON array) aside: they wait for that batch's
   * answer (a row's retried change went alone, its newer changes stay behind), so a pass
   * whose next batch is empty must build again once it is in, not end.
   */
  heldBehind: `SELECT count(*) AS n FROM json_each(?) AS busy CROSS JOIN tillsync_outbox AS o
    WHERE ${GROUP_KEY} = busy.value AND o.status = 'pending' AND o.sent_as IS NULL AND o.id <= ? AND o.table_name NOT IN (SELECT value FROM json_each(?))`,
  /** The chosen groups' pending entries (CROSS JOIN: from the groups into the group index), read raw (entryOfRow). */
  groupEntries: `SELECT ${ENTRY_COLUMNS.map((c) => `o.${c}`).join(', ')} FROM json_each(?) AS chosen CROSS JOIN tillsync_outbox AS o
    WHERE ${GROUP_KEY} = chosen.value AND o.status = 'pending' AND o.table_name NOT IN (SELECT value FROM json_each(?))
    ORDER BY o.id`,
} as const;

/** The versions and bases held for the batch's rows. */
const ROW_STATES = `SELECT s.table_name, s.server_id, s.version, s.base FROM json_each(?) AS k
         CROSS JOIN tillsync_row_state AS s WHERE s.table_name = k.value ->> 0 AND s.server_id = k.value ->> 1`;

export interface BatchOptions {
  readonly limit: number;
  readonly minPriority: number;
  readonly now: number;
  readonly pausedTables: ReadonlySet<string>;
  readonly upToId?: number;
  readonly busy?: InFlight;
}

/** A row's folded change, checked and ready to stamp. */
interface Candidate {
  readonly t: LocalTable;
  readonly members: OutboxEntry[];
  readonly group: string;
  readonly wire: WireRow | null;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly key: string;
}

export class Batches {
  constructor(
    private readonly base: StoreBase,
    private readonly capture: Capture,
    private readonly outbox: Outbox,
  ) {}

  /** The transaction group of a row (see batch-rules groupOf), its parent looked up in this file. */
  groupOf(entry: CatalogEntry, row: LocalRow, serverId: string, minted?: ReadonlyMap<string, string>): string | null {
    return groupOf(entry, row, serverId, (table, localId) => minted?.get(`${table}\u0000${localId}`) ?? this.base.fk.serverIdOf(table, localId));
  }

  /**
   * The transaction groups of the next batch: most urgent first (a group counts at its
   * highest priority), then in capture order, whole groups only, up to `limit`
   * changes. Walks the queue index level by level and stops once the batch is full,
   * so its cost follows the batch, not the backlog (a till that was offline for
   * days has a long one).
   */
  chooseGroups(opts: { limit: number; minPriority: number; now: number; upToId?: number; busy?: InFlight }, paused: string): string[] {
    const upTo = opts.upToId ?? Number.MAX_SAFE_INTEGER;
    const nextLevel = this.base.stmt(BATCH_SQL.nextLevel);
    const page = this.base.stmt(BATCH_SQL.levelPage);
    const sizes = this.base.stmt(BATCH_SQL.groupSizes);
    const chosen: string[] = [];
    // A group at central now is not chosen again (nor counted) until its answer is in.
    const seen = new Set<string>(opts.busy?.groups ?? []);
    let total = 0;
    let below = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const level = (nextLevel.get(opts.minPriority, below) as { p: number | null }).p;
      if (level === null) return chosen;
      below = level;
      let after = 0;
      for (;;) {
        const rows = page.all(opts.now, upTo, paused, level, after) as { id: number; g: string }[];
        if (rows.length === 0) break;
        // The page's new groups in order of their first entry, counted in one statement.
        const fresh: string[] = [];
        for (const r of rows) {
          if (seen.has(r.g)) continue;
          seen.add(r.g);
          fresh.push(r.g);
        }
        const counts = fresh.length === 0 ? [] : (sizes.all(opts.now, upTo, paused, JSON.stringify(fresh)) as { g: string; n: number }[]);
        for (const { g, n } of counts) {
          if (total > 0 && total + n > opts.limit) return chosen;
          chosen.push(g);
          total += n;
          if (total >= opts.limit) return chosen;
        }
        after = (rows[rows.length - 1] as { id: number }).id;
      }
    }
  }

  /**
   * The next batch: whole transaction groups, highest priority first. Updates of one
   * row not yet sent collapse into one change; a row created and deleted before any
   * push sends nothing. Entries once sent are frozen: a retry sends exactly the same
   * change (same id), so central's idempotency answers it.
   *
   * `busy`: a batch still at central (built while it is on its way). Its groups are not
   * chosen, and a group touching one of its rows waits for a later batch: a change of
   * such a row must be built on the version central's answer will bring.
   */
  nextBatch(opts: BatchOptions): OutgoingBatch {
    // After central's restore, the sales wait (as a paused table's changes do) until the
    // rows central lost that they point at have been given back (store/restored.ts).
    const held = salesHeldBack(restoreRereadsOf(this.base), opts.pausedTables, this.base.tables.keys());
    const paused = JSON.stringify([...opts.pausedTables, ...held]);
    // IMMEDIATE: this reads, then writes; a deferred transaction could not upgrade its
    // lock while the POS writes (SQLITE_BUSY_SNAPSHOT) and would fail instead of waiting.
    return this.base.db.transaction((): OutgoingBatch => {
      this.capture.drain();
      const chosen = this.chooseGroups(opts, paused);
      if (chosen.length === 0) return { changes: [], cancelled: 0, invalid: 0, deferred: this.heldBehind(opts, paused) };
      let entries = (this.base.rawStmt(BATCH_SQL.groupEntries).all(JSON.stringify(chosen), paused) as unknown[][]).map(entryOfRow);
      const waiting = waitingGroups(entries, opts.busy?.rows);
      if (waiting.size > 0) entries = entries.filter((e) => !waiting.has(groupKey(e.tx_group, e.table_name, e.server_id)));
      const deferred = opts.busy?.rows && opts.busy.rows.size > 0 ? waiting.size : 0;
      const rows = byRow(entries);
      const { candidates, badGroups, cancelled } = this.plan(rows, opts.now);
      // A transaction group travels whole or not at all: one bad row holds back its order.
      let invalid = 0;
      for (const [group, why] of badGroups) invalid += this.outbox.holdGroup(group, why);
      const out = this.build(candidates.filter((c) => !badGroups.has(c.group)), rows);
      this.base.saveClock();
      return { changes: sendOrder(out), cancelled, invalid, deferred: out.length === 0 ? deferred + this.heldBehind(opts, paused) : deferred };
    }).immediate();
  }

  /**
   * Entries of the groups at central that were never sent: not chosen while their group
   * is busy, they wait for its answer. Read only for an empty batch (where the loop asks
   * whether to build again or end the pass), so a full one costs nothing more.
   */
  private heldBehind(opts: BatchOptions, paused: string): number {
    if (!opts.busy || opts.busy.groups.size === 0) return 0;
    const r = this.base.stmt(BATCH_SQL.heldBehind).get(JSON.stringify([...opts.busy.groups]), opts.upToId ?? Number.MAX_SAFE_INTEGER, paused) as { n: number };
    return r.n;
  }

  /** Each row's folded change, checked against its table's schema; rows created and deleted before any push settled. */
  private plan(rows: ReadonlyMap<string, OutboxEntry[]>, now: number): { candidates: Candidate[]; badGroups: Map<string, string>; cancelled: number } {
    const candidates: Candidate[] = [];
    const badGroups = new Map<string, string>();
    let cancelled = 0;
    /** Per row, its oldest earlier attempt still pending: it goes first, alone and unchanged. */
    const earliest = new Map<string, { sent_as: string; next_attempt_at: number | null }>();
    for (const r of this.base.stmt(BATCH_SQL.earlierAttempts).all(rowKeysJson(rows)) as {
      table_name: string;
      server_id: string;
      sent_as: string;
      next_attempt_at: number | null;
    }[]) {
      earliest.set(rowKey(r.table_name, r.server_id), r); // descending: the oldest is set last
    }
    for (const [key, list] of rows) {
      const head = list[0] as OutboxEntry;
      const t = this.base.tables.get(head.table_name);
      if (!t) continue;
      const plan = planRow(list, earliest.get(key), now);
      if (plan.kind === 'wait') continue;
      if (plan.kind === 'cancel') {
        this.outbox.cancel(
          plan.members.map((m) => m.id),
          'cancelled: created and deleted before it was pushed',
        );
        cancelled += plan.members.length;
        continue;
      }
      const group = groupKey((plan.members[0] as OutboxEntry).tx_group, head.table_name, head.server_id);
      const image = lastImage(plan.members);
      let wire: WireRow | null = null;
      if (image) {
        const mapped = localToWire(t.entry, head.server_id, image, this.base.fk);
        if (mapped.unlinked.length > 0) {
          badGroups.set(group, `UNLINKED: ${t.entry.entityType} ${head.server_id}: ${mapped.unlinked.join(', ')} point at rows without a central id; run bootstrap`);
          continue;
        }
        const valid = t.entry.rowSchema.safeParse(mapped.row);
        if (!valid.success) {
          const issue = valid.error.issues[0];
          badGroups.set(group, `INVALID_DATA: ${t.entry.entityType} ${head.server_id}.${issue?.path.join('.')}: ${issue?.message}`);
          continue;
        }
        wire = valid.data;
      }
      candidates.push({ t, members: plan.members, group, wire, operation: plan.operation, key });
    }
    return { candidates, badGroups, cancelled };
  }

  /** The changes as sent, their entries stamped with what they are sent as (one statement). */
  private build(candidates: readonly Candidate[], rows: ReadonlyMap<string, OutboxEntry[]>): OutgoingChange[] {
    const states = new Map<string, { version: number; base: string | null }>();
    for (const r of this.base.stmt(ROW_STATES).all(rowKeysJson(rows)) as { table_name: string; server_id: string; version: number; base: string | null }[]) {
      states.set(rowKey(r.table_name, r.server_id), r);
    }
    const out: OutgoingChange[] = [];
    /** [entry id, sent as, base version, clock]: written in one statement below. */
    const sent: [number, string, number, string][] = [];
    for (const { t, members, wire, operation, key } of candidates) {
      const first = members[0] as OutboxEntry;
      const ids = members.map((m) => m.id);
      const state = states.get(key);
      const changeId = first.sent_as ?? first.change_id;
      const hlc = first.hlc ?? this.base.tick({ persist: false });
      const baseVersion = first.sent_as ? (first.base_version ?? 0) : (state?.version ?? 0);
      const base = state?.base
        ? (JSON.parse(state.base) as WireRow)
        : first.old_image
          ? localToWire(t.entry, first.server_id, JSON.parse(first.old_image) as LocalRow, this.base.fk).row
          : null;
      for (const id of ids) sent.push([id, changeId, baseVersion, hlc]);
      out.push({
        entry: t.entry,
        entryIds: ids,
        wire,
        change: {
          changeId,
          entityType: t.entry.entityType,
          entityId: first.server_id,
          operation,
          ...(wire && operation !== 'DELETE' ? { data: wire } : {}),
          ...(base ? { baseData: base } : {}),
          syncVersion: baseVersion,
          hlc,
          priority: Math.min(10, Math.max(...members.map((m) => m.priority))),
          createdInMode: first.created_in_mode,
          ...(first.tx_group ? { transactionGroup: first.tx_group } : {}),
        },
      });
    }
    this.outbox.send(sent);
    return out;
  }
}

/** The rows' [table, server id] pairs as JSON (what the per-row look-ups join from). */
function rowKeysJson(rows: ReadonlyMap<string, OutboxEntry[]>): string {
  return JSON.stringify([...rows.values()].map((list) => [(list[0] as OutboxEntry).table_name, (list[0] as OutboxEntry).server_id]));
}
