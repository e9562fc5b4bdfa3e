/**
 * Types of the declarative table catalog. One entry per synced table drives the
 * central schema, the terminal schema, wire validation, triggers, mapping, parity,
 * status and the UI. Pure data: no node, DOM or electron imports.
 */

/** Logical column types; each side maps them to its own storage type. */
export type ColumnType = 'text' | 'integer' | 'numeric' | 'boolean' | 'timestamp' | 'json';

export interface ColumnDef {
  readonly type: ColumnType;
  /** Required when a row is created (NOT NULL at central). Default: optional. */
  readonly required?: boolean;
  /** Name of this column at central when it differs from the terminal's name. */
  readonly central?: string;
  /** Foreign key: the catalog table (local name) this column points at. */
  readonly references?: string;
  /** One of these values only (enforced on the wire). */
  readonly oneOf?: readonly string[];
}

export type Direction = 'up' | 'down' | 'both';

export const CONFLICT_STRATEGIES = [
  'TERMINAL_WINS',
  'CENTRAL_WINS',
  'LAST_WRITE_WINS',
  'MERGE',
  'MANUAL_MERGE',
] as const;
export type ConflictStrategy = (typeof CONFLICT_STRATEGIES)[number];

/** Priority tiers, as in the seed. */
export const PRIORITY = {
  CRITICAL: 10,
  HIGH: 8,
  MEDIUM: 5,
  LOW: 3,
  BACKGROUND: 1,
} as const;

/** Static priority, or a priority chosen per row by one column's value. */
export type PrioritySpec =
  | number
  | { readonly column: string; readonly when: Readonly<Record<string, number>>; readonly otherwise: number };

export interface TableDef {
  /** Table name on the terminal (the POS's own name). */
  readonly table: string;
  /** Table name at central; defaults to `table`. */
  readonly centralTable?: string;
  /** Entity type on the wire (the seed's names: `SaleOrder`, `Product`, ...). */
  readonly entityType: string;
  /** Business columns by their terminal name. Keys and local-only columns are implied. */
  readonly columns: Readonly<Record<string, ColumnDef>>;
  /**
   * Column (terminal name) that scopes a row to one store; `id` for the stores
   * table itself. Absent: the table is global and every terminal sees all of it.
   */
  readonly storeColumn?: string;
  readonly direction: Direction;
  readonly priority: PrioritySpec;
  /**
   * The row travels in its parent's transaction group (an order's items and
   * payments travel with the order), at the highest priority among them.
   */
  readonly group?: { readonly parent: string; readonly via: string };
  readonly conflictStrategy: ConflictStrategy;
  /** MERGE: numeric columns merged as deltas (never as totals). */
  readonly counters?: readonly string[];
  /** Rows are never deleted by a terminal (a sale is voided, not deleted). */
  readonly appendOnly?: boolean;
  readonly description: string;
}

/** Columns that live only on the terminal and never cross the wire (from the seed). */
export const LOCAL_ONLY_COLUMNS = [
  'local_id',
  'server_id',
  'sync_status',
  'sync_operation',
  'last_sync_at',
  'terminal_id',
] as const;

/** The terminal's own integer key; `server_id` links it to central's `id`. */
export const LOCAL_KEY = 'id';
export const LOCAL_SERVER_ID = 'server_id';
/** Central's key, a text id (UUID) and the wire's `entityId`. */
export const CENTRAL_KEY = 'id';

/**
 * Bounds on the values a row image may carry on the wire, so that no value a
 * terminal's push is allowed to send can hit a limit of central's database (a 5xx).
 * Not part of the schema hash: they bound values, not the shape, and terminals in the
 * field compare hashes.
 *
 * Keys and foreign keys: every one is indexed at central, and a btree index row holds
 * at most about 2,700 bytes. 200 characters are at most 800 bytes in UTF-8.
 */
export const KEY_MAX_LENGTH = 200;
/** Free text (never indexed): generous, a long receipt fits many times over, but bounded. */
export const TEXT_MAX_LENGTH = 100_000;
/** A json column's value: its deepest nesting (an object or array is one level) and its length as JSON text. */
export const JSON_MAX_DEPTH = 16;
export const JSON_MAX_LENGTH = 100_000;

/** Sync metadata columns every central table carries. */
export const CENTRAL_SYNC_COLUMNS = {
  version: 'sync_version',
  hlc: 'sync_hlc',
  origin: 'sync_origin',
  updatedAt: 'sync_updated_at',
  deletedAt: 'sync_deleted_at',
  /**
   * The terminal change last applied to the row as a plain `applied` (its change id and
   * content hash): the answer to that change, kept on the row instead of in
   * sync_applied until the row is written again (the stamp trigger then moves it there).
   */
  changeId: 'sync_change_id',
  changeHash: 'sync_change_hash',
} as const;
