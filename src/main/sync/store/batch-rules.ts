/**
 * How a batch is made, without I/O: transaction groups, the rows a batch at central
 * holds back, and how a row's queued entries fold into the one change that is sent.
 */
import { CATALOG, PRIORITY, type CatalogEntry, type WireRow } from '../../../shared/catalog/index.js';
import type { PushChange } from '../../../shared/protocol.js';
import type { LocalRow } from '../mapping.js';
import type { OutboxEntry } from './outbox-status.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** One change as sent, and the outbox entries it stands for. */
export interface OutgoingChange {
  readonly change: PushChange;
  readonly entry: CatalogEntry;
  readonly entryIds: number[];
  readonly wire: WireRow | null;
}

export interface OutgoingBatch {
  readonly changes: OutgoingChange[];
  /** Entries settled while building the batch (created and deleted before any push). */
  readonly cancelled: number;
  /** Entries that could not be sent (invalid data, unlinked rows) and were marked failed. */
  readonly invalid: number;
  /**
   * Left for a later batch, to be built once the batch still at central is answered:
   * groups with a row in it, and (counted only when this batch is empty) its groups'
   * entries never sent.
   */
  readonly deferred?: number;
}

/** What a batch still at central holds: its groups and rows, kept out of the next batch. */
export interface InFlight {
  readonly groups: ReadonlySet<string>;
  readonly rows: ReadonlySet<string>;
}

export const rowKey = (table: string, serverId: string) => `${table}\u0000${serverId}`;
/** A change's transaction group as GROUP_KEY names it: its own, or its row alone. */
export const groupKey = (txGroup: string | null | undefined, table: string, serverId: string) => txGroup ?? `${table}:${serverId}`;

/** The transaction group of an outgoing change, as GROUP_KEY names it. */
const groupOfChange = (c: OutgoingChange) => groupKey(c.change.transactionGroup, c.entry.table, c.change.entityId);

/** The groups (as GROUP_KEY names them) and rows of a batch that is on its way to central. */
export function inFlight(batch: OutgoingBatch): InFlight {
  const groups = new Set<string>();
  const rows = new Set<string>();
  for (const c of batch.changes) {
    groups.add(groupOfChange(c));
    rows.add(rowKey(c.entry.table, c.change.entityId));
  }
  return { groups, rows };
}

/** Per table, its foreign-key columns (wire names) and the tables they point at. */
const FOREIGN_KEYS = new Map(CATALOG.map((e) => [e.table, e.wireColumns.flatMap((c) => (c.def.references ? [[c.name, c.def.references] as const] : []))]));

/**
 * Whether a change of `changes` points at a row of a batch still at central: a parent
 * central may not have committed yet (a product or customer the till created, sent
 * just before the sale that uses it). Such a batch goes only once that answer is in.
 */
export function pointsAtBusy(changes: readonly OutgoingChange[], busy: InFlight): boolean {
  if (busy.rows.size === 0) return false;
  for (const c of changes) {
    const data = c.change.data;
    if (!data) continue;
    for (const [column, parent] of FOREIGN_KEYS.get(c.entry.table) ?? []) {
      const v = data[column];
      if (typeof v === 'string' && busy.rows.has(rowKey(parent, v))) return true;
    }
  }
  return false;
}

/**
 * The tier of a priority (DESIGN.md: CRITICAL 10, HIGH 8-9, MEDIUM 5-7, LOW 3-4,
 * BACKGROUND 1-2): the lowest priority of its tier.
 */
export function tierOf(priority: number): number {
  const tiers = [PRIORITY.CRITICAL, PRIORITY.HIGH, PRIORITY.MEDIUM, PRIORITY.LOW];
  return tiers.find((t) => priority >= t) ?? PRIORITY.BACKGROUND;
}

/**
 * The level of each group of a batch, in the order the groups first appear: its highest
 * priority (as batches are built: an order's items count at the order's priority).
 */
function groupLevels(changes: readonly OutgoingChange[]): Map<string, number> {
  const levels = new Map<string, number>();
  for (const c of changes) {
    const g = groupOfChange(c);
    levels.set(g, Math.max(levels.get(g) ?? 0, c.change.priority ?? 0));
  }
  return levels;
}

/** The tiers of a batch's groups. */
const tiers = (changes: readonly OutgoingChange[]): number[] => [...groupLevels(changes).values()].map(tierOf);

/**
 * Whether `next` may not go beside `atCentral`: their groups are not all of one tier.
 * Two batches at central at once commit in either order, and tiers must commit in
 * order (DESIGN.md invariant 11): a lower group must not commit before a higher one,
 * nor a higher one after a lower (a newer change of a row that was at central, built
 * once its answer is in). So only batches of one tier go side by side (a backlog of
 * sales, of stock movements); any other waits for the answer and is built again.
 */
export function crossesTiers(next: readonly OutgoingChange[], atCentral: readonly OutgoingChange[]): boolean {
  if (atCentral.length === 0 || next.length === 0) return false;
  const all = [...tiers(next), ...tiers(atCentral)];
  return Math.min(...all) !== Math.max(...all);
}

/**
 * A batch refused as a whole, in two halves of whole transaction groups (an order with
 * its items and payments never split: DESIGN.md invariant 8); null when it holds a
 * single group (that group is the refused one). The halves go one after the other, so
 * the groups are ranked by level first (a group at its highest priority; ties in the
 * batch's order): the first half holds the higher ones, and tiers commit in order.
 * Each half keeps the batch's order of changes.
 */
export function splitGroups(changes: readonly OutgoingChange[]): [OutgoingChange[], OutgoingChange[]] | null {
  const levels = groupLevels(changes);
  if (levels.size < 2) return null;
  const ranked = [...levels].map(([g, p], i) => ({ g, p, i })).sort((a, b) => b.p - a.p || a.i - b.i);
  const first = new Set(ranked.slice(0, Math.ceil(ranked.length / 2)).map((x) => x.g));
  return [changes.filter((c) => first.has(groupOfChange(c))), changes.filter((c) => !first.has(groupOfChange(c)))];
}

/** Tables other rows travel with (an order: its items and payments). */
const PARENTS = new Set(CATALOG.flatMap((e) => (e.group ? [e.group.parent] : [])));

/**
 * The transaction group of a row: its parent's for rows that travel with a parent
 * (an order's items and payments), its own for a parent, none otherwise.
 * `parentServerId` finds the parent's central id from its local id (null: not linked yet).
 */
export function groupOf(entry: CatalogEntry, row: LocalRow, serverId: string, parentServerId: (table: string, localId: number) => string | null): string | null {
  if (entry.group) {
    const parentId = row[entry.group.via];
    const parent = parentId === null || parentId === undefined ? null : parentServerId(entry.group.parent, Number(parentId));
    return `${entry.group.parent}:${parent ?? `local-${String(parentId)}`}`;
  }
  if (PARENTS.has(entry.table)) return `${entry.table}:${serverId}`;
  return null;
}

/** Groups a batch waits on: those of `entries` with a row in a batch still at central. */
export function waitingGroups(entries: readonly OutboxEntry[], busyRows: ReadonlySet<string> | undefined): Set<string> {
  if (!busyRows || busyRows.size === 0) return new Set();
  return new Set(entries.filter((e) => busyRows.has(rowKey(e.table_name, e.server_id))).map((e) => groupKey(e.tx_group, e.table_name, e.server_id)));
}

/** Entries per row, each row's in capture order (the order they come in). */
export function byRow<E extends Pick<OutboxEntry, 'table_name' | 'server_id'>>(entries: readonly E[]): Map<string, E[]> {
  const rows = new Map<string, E[]>();
  for (const e of entries) {
    const key = rowKey(e.table_name, e.server_id);
    const list = rows.get(key) ?? [];
    list.push(e);
    rows.set(key, list);
  }
  return rows;
}

/** The change a run of one row's entries folds into: null when they cancel out (created and deleted before any push). */
export function foldOperations(ops: readonly Operation[], sentBefore: boolean): Operation | null {
  const first = ops[0];
  const last = ops[ops.length - 1];
  if (first === undefined || last === undefined) return null;
  if (!sentBefore && first === 'CREATE' && last === 'DELETE') return null;
  return first === 'CREATE' ? 'CREATE' : last === 'DELETE' ? 'DELETE' : 'UPDATE';
}

/** A row's oldest earlier attempt still pending (as sent, and when it may go again). */
export interface EarlierAttempt {
  readonly sent_as: string;
  readonly next_attempt_at: number | null;
}

export type RowPlan<E> =
  /** Nothing of this row goes now (its earlier attempt waits out a pause). */
  | { readonly kind: 'wait' }
  /** Created and deleted before any push: settle, send nothing. */
  | { readonly kind: 'cancel'; readonly members: E[] }
  | { readonly kind: 'send'; readonly members: E[]; readonly operation: Operation };

/**
 * What one row sends in the next batch. An earlier attempt still pending goes first,
 * alone and unchanged (the same entries, so the same change id: central's idempotency
 * answers a retry). Otherwise the entries not sent yet fold into one change: updates
 * into one, a create and what follows into a create, anything ending in a delete into
 * a delete, and a create ending in a delete into nothing.
 */
export function planRow<E extends Pick<OutboxEntry, 'operation' | 'sent_as'>>(list: readonly E[], earlier: EarlierAttempt | undefined, now: number): RowPlan<E> {
  let members: E[];
  if (earlier) {
    if (earlier.next_attempt_at !== null && earlier.next_attempt_at > now) return { kind: 'wait' };
    members = list.filter((e) => e.sent_as === earlier.sent_as);
  } else {
    members = list.filter((e) => e.sent_as === null);
  }
  if (members.length === 0) return { kind: 'wait' };
  const operation = foldOperations(
    members.map((m) => m.operation),
    (members[0] as E).sent_as !== null,
  );
  return operation === null ? { kind: 'cancel', members } : { kind: 'send', members, operation };
}

/** The image a folded change carries: its last entry's new image (null for a delete). */
export function lastImage(members: readonly Pick<OutboxEntry, 'new_image'>[]): LocalRow | null {
  const last = members[members.length - 1];
  return last?.new_image ? (JSON.parse(last.new_image) as LocalRow) : null;
}

/** Parents before children (an order before its items), then capture order. */
export function sendOrder(changes: OutgoingChange[]): OutgoingChange[] {
  const order = new Map(CATALOG.map((e, i) => [e.table, i]));
  return changes.sort((a, b) => (order.get(a.entry.table) ?? 0) - (order.get(b.entry.table) ?? 0) || (a.entryIds[0] ?? 0) - (b.entryIds[0] ?? 0));
}
