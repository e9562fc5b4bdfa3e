/**
 * Foreign keys of a pushed row: which parents a change points at, and whether the
 * terminal may point there (DESIGN invariant 12: no terminal touches another store's
 * data). Derived from the catalog for every table; pure, the rows are looked up by
 * the caller in the transaction that writes.
 *
 * The rules, per foreign-key column the change sets (the table's own store column
 * is judged separately, with its default):
 * - a parent in a store-scoped table must be of the terminal's store, or global
 *   (its store column empty, e.g. an HQ user);
 * - a required parent must exist: at central already, or created by the same batch.
 *   A parent deleted at central (a tombstone) still exists: a sale rung up before the
 *   delete reached the till is kept, never refused.
 * - an optional parent that does not exist (yet) is accepted: the till may push the
 *   parent later (a new customer travels at a lower priority than the sale).
 */
import type { CatalogEntry, WireRow, WireValue } from '../../shared/catalog/index.js';
import { entryForTable } from '../../shared/catalog/index.js';

/** One foreign-key value a change sets that needs looking at. */
export interface ParentRef {
  /** The foreign-key column (central name). */
  readonly column: string;
  readonly parent: CatalogEntry;
  readonly id: string;
  readonly required: boolean;
}

/** What the transaction knows of a parent row. */
export type ParentState =
  /** At central (live or a tombstone), or written earlier in this batch: its store (null: global). */
  | { readonly kind: 'present'; readonly store: WireValue }
  /** Not at central, but a change later in this batch creates it: judge the child after it. */
  | { readonly kind: 'later' }
  | { readonly kind: 'absent' };

export type ParentVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'wait' }
  | { readonly kind: 'refuse'; readonly code: 'FORBIDDEN_STORE' | 'MISSING_PARENT'; readonly message: string };

interface FkColumn {
  readonly column: string;
  readonly parent: CatalogEntry;
  readonly required: boolean;
}

const fkCache = new Map<CatalogEntry, readonly FkColumn[]>();

/**
 * The foreign-key columns of a table worth checking: those pointing into a
 * store-scoped table (a store can be crossed) or required (a parent can be missing).
 * An optional key into a global table (a product's brand) can do neither harm.
 */
export function checkedForeignKeys(entry: CatalogEntry): readonly FkColumn[] {
  let cols = fkCache.get(entry);
  if (!cols) {
    cols = entry.wireColumns.flatMap((c) => {
      if (!c.def.references || c.name === entry.centralStoreColumn) return [];
      const parent = entryForTable(c.def.references);
      if (!parent) return [];
      const required = c.def.required === true;
      return parent.centralStoreColumn !== undefined || required ? [{ column: c.name, parent, required }] : [];
    });
    fkCache.set(entry, cols);
  }
  return cols;
}

/** The parents a change's data points at (only the keys it sets; a DELETE sets none). */
export function parentRefs(entry: CatalogEntry, data: WireRow | undefined): ParentRef[] {
  if (!data) return [];
  const refs: ParentRef[] = [];
  for (const fk of checkedForeignKeys(entry)) {
    const v = data[fk.column];
    if (typeof v === 'string') refs.push({ column: fk.column, parent: fk.parent, id: v, required: fk.required });
  }
  return refs;
}

/** A change's parents judged against what the transaction knows of them. */
export function judgeParents(
  entry: CatalogEntry,
  entityId: string,
  refs: readonly ParentRef[],
  stateOf: (ref: ParentRef) => ParentState,
  storeId: string,
): ParentVerdict {
  let wait = false;
  for (const ref of refs) {
    const state = stateOf(ref);
    if (state.kind === 'present') {
      if (ref.parent.centralStoreColumn !== undefined && state.store !== null && state.store !== storeId) {
        return {
          kind: 'refuse',
          code: 'FORBIDDEN_STORE',
          message: `${entry.entityType} ${entityId}: ${ref.column} points at ${ref.parent.entityType} ${ref.id} of another store; a terminal of store ${storeId} may point only at its own store's rows or global ones`,
        };
      }
    } else if (state.kind === 'later') {
      wait = true;
    } else if (ref.required) {
      return {
        kind: 'refuse',
        code: 'MISSING_PARENT',
        message: `${entry.entityType} ${entityId}: ${ref.column} points at ${ref.parent.entityType} ${ref.id}, which is not at central and is not created by this batch; push the ${ref.parent.entityType} first (or in the same batch)`,
      };
    }
  }
  return wait ? { kind: 'wait' } : { kind: 'ok' };
}
