/**
 * The terminal engine's own tables in the POS database (prefix tillsync_). The POS
 * tables themselves are not migrated by drizzle: an existing POS database has them
 * already, so the engine creates or extends them from the catalog at start
 * (src/main/sync/schema.ts). schema.ts beside this file types them for queries.
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

/** One row: the capture switch and the connectivity mode, read by every capture trigger. */
export const tillsyncControl = sqliteTable('tillsync_control', {
  id: integer('id').primaryKey(),
  /** 1 while the engine applies pulled changes: triggers on any connection then capture nothing. */
  applying: integer('applying').notNull().default(0),
  /** ONLINE or OFFLINE: recorded on each outbox entry as createdInMode. */
  mode: text('mode').notNull().default('ONLINE'),
});

/**
 * What the capture triggers write, in the POS's own transaction: one row per write,
 * with no index but its key, so a sale pays as little as possible. The engine moves
 * these rows into the outbox (central ids, change ids, groups) in its own transaction
 * before it reads the outbox (store/capture.ts, promote).
 */
export const tillsyncCapture = sqliteTable('tillsync_capture', {
  id: integer('id').primaryKey(),
  tableName: text('table_name').notNull(),
  localId: integer('local_id').notNull(),
  /** The row's central id as the trigger saw it (NULL for a row not stamped yet). */
  serverId: text('server_id'),
  operation: text('operation').notNull(),
  newImage: text('new_image'),
  oldImage: text('old_image'),
  priority: integer('priority').notNull(),
  mode: text('mode').notNull(),
  capturedAt: text('captured_at').notNull().default(now),
});

/**
 * Central ids given to new rows by a promotion that left capture entries behind
 * (a long log is moved in several transactions): a later entry of the same row,
 * captured before the id was stamped, finds it here. Emptied with the log.
 */
export const tillsyncMinted = sqliteTable(
  'tillsync_minted',
  {
    tableName: text('table_name').notNull(),
    localId: integer('local_id').notNull(),
    serverId: text('server_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.localId] })],
);

/** Changes captured from the POS's writes, waiting to reach central. */
export const tillsyncOutbox = sqliteTable(
  'tillsync_outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    changeId: text('change_id').notNull(),
    tableName: text('table_name').notNull(),
    localId: integer('local_id').notNull(),
    serverId: text('server_id').notNull(),
    operation: text('operation').notNull(),
    newImage: text('new_image'),
    oldImage: text('old_image'),
    priority: integer('priority').notNull(),
    createdInMode: text('created_in_mode').notNull().default('ONLINE'),
    txGroup: text('tx_group'),
    /** pending, failed, synced, conflict */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    nextAttemptAt: integer('next_attempt_at'),
    /** The change id this entry was sent under (entries collapsed into one share it). */
    sentAs: text('sent_as'),
    baseVersion: integer('base_version'),
    resultVersion: integer('result_version'),
    conflictId: text('conflict_id'),
    hlc: text('hlc'),
    createdAt: text('created_at').notNull().default(now),
    syncedAt: text('synced_at'),
  },
  (t) => [
    uniqueIndex('tillsync_outbox_change_idx').on(t.changeId),
    index('tillsync_outbox_queue_idx').on(t.status, t.priority, t.id),
    index('tillsync_outbox_row_idx').on(t.tableName, t.serverId, t.status),
  ],
);

/** Per row: the central version the terminal last saw, and that row image (the merge base). */
export const tillsyncRowState = sqliteTable(
  'tillsync_row_state',
  {
    tableName: text('table_name').notNull(),
    serverId: text('server_id').notNull(),
    version: integer('version').notNull(),
    base: text('base'),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.serverId] })],
);

/** Per table: the pull cursor, moved in the transaction that applies a page. */
export const tillsyncCursors = sqliteTable('tillsync_cursors', {
  tableName: text('table_name').primaryKey(),
  cursor: text('cursor'),
  lastPullAt: text('last_pull_at'),
  lastPushAt: text('last_push_at'),
  /** Set when the table is paused (schema drift); cleared when it syncs again. */
  pausedReason: text('paused_reason'),
  /**
   * Set while the table is re-read from a snapshot because central purged past its
   * cursor (CURSOR_EXPIRED): when the re-read began. Cleared by the read's last page.
   */
  resyncSince: text('resync_since'),
});

/**
 * During a re-read of a table after CURSOR_EXPIRED: the rows the terminal held from
 * central when it began (and the version it held), less those the read has brought
 * back since. Whatever is left when the read ends was purged at central as deleted.
 */
export const tillsyncResync = sqliteTable(
  'tillsync_resync',
  {
    tableName: text('table_name').notNull(),
    serverId: text('server_id').notNull(),
    version: integer('version').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.serverId] })],
);

/** Conflicts known to the terminal: parked at central, or met while pulling. */
export const tillsyncConflicts = sqliteTable(
  'tillsync_conflicts',
  {
    id: text('id').primaryKey(),
    tableName: text('table_name').notNull(),
    entityType: text('entity_type').notNull(),
    serverId: text('server_id').notNull(),
    strategy: text('strategy').notNull(),
    status: text('status').notNull().default('open'),
    base: text('base'),
    terminal: text('terminal'),
    central: text('central'),
    centralVersion: integer('central_version'),
    resolution: text('resolution'),
    createdAt: text('created_at').notNull().default(now),
    resolvedAt: text('resolved_at'),
  },
  (t) => [index('tillsync_conflicts_status_idx').on(t.status)],
);

/** Foreign keys pulled before their target row arrived; fixed once it does. */
export const tillsyncUnresolved = sqliteTable(
  'tillsync_unresolved',
  {
    tableName: text('table_name').notNull(),
    localId: integer('local_id').notNull(),
    column: text('column').notNull(),
    targetTable: text('target_table').notNull(),
    targetServerId: text('target_server_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tableName, t.localId, t.column] })],
);

/** Every sync run: kind, trigger, times, counts, errors. */
export const tillsyncHistory = sqliteTable('tillsync_history', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  kind: text('kind').notNull(),
  trigger: text('trigger').notNull(),
  startedAt: text('started_at').notNull(),
  finishedAt: text('finished_at'),
  pushed: integer('pushed').notNull().default(0),
  pulled: integer('pulled').notNull().default(0),
  conflicts: integer('conflicts').notNull().default(0),
  failed: integer('failed').notNull().default(0),
  errors: text('errors'),
});

/** Key/value state of the engine: terminal id, last clock, bootstrap progress. */
export const tillsyncMeta = sqliteTable('tillsync_meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});
