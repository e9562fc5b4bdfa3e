/**
 * Conflict decisions: pure functions over row images. Both sides use them: central
 * when a push meets a newer central row, the terminal when a pull meets a row with
 * pending local changes. Detection is by version; clocks only order LWW ties.
 */
import type { CatalogEntry, ConflictStrategy, WireRow, WireValue } from './catalog/index.js';
import { compareHlc, parseHlc } from './hlc.js';

export interface ConflictInput {
  readonly strategy: ConflictStrategy;
  /** Columns merged as deltas under MERGE. */
  readonly counters: readonly string[];
  /** Columns to decide over (wire names). */
  readonly columns: readonly string[];
  /** What the terminal last had from central (null if unknown). */
  readonly base: WireRow | null;
  /** The terminal's row image. */
  readonly terminal: WireRow;
  /** Central's current row image. */
  readonly central: WireRow;
  readonly terminalHlc: string | null;
  readonly centralHlc: string | null;
}

export type ConflictOutcome =
  | { readonly kind: 'TERMINAL_WINS'; readonly row: WireRow }
  | { readonly kind: 'CENTRAL_WINS'; readonly row: WireRow }
  | { readonly kind: 'MERGED'; readonly row: WireRow }
  | { readonly kind: 'PARKED' };

/** Equality of wire values; numbers and decimal strings compare by value. */
export function sameValue(a: WireValue | undefined, b: WireValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return (a ?? null) === (b ?? null);
  const na = typeof a === 'string' && typeof b === 'number' ? Number(a) : a;
  const nb = typeof b === 'string' && typeof a === 'number' ? Number(b) : b;
  if (typeof na === 'number' && typeof nb === 'number') return na === nb;
  return JSON.stringify(na) === JSON.stringify(nb);
}

/** Whether the terminal's clock is later than central's (unknown clocks lose to known ones). */
export function terminalIsLater(terminalHlc: string | null, centralHlc: string | null): boolean {
  const t = terminalHlc ? parseHlc(terminalHlc) : null;
  const c = centralHlc ? parseHlc(centralHlc) : null;
  if (!t) return false;
  if (!c) return true;
  return compareHlc(t, c) > 0;
}

function toNumber(v: WireValue | undefined): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0;
  return Number.isFinite(n) ? n : 0;
}

/** Rounds away binary noise from decimal sums (0.1 + 0.2). */
function roundDecimal(n: number): number {
  return Number(n.toFixed(9));
}

/**
 * Three-way merge per field. Counters add the terminal's delta to central's value.
 * Other fields: a side that changed it from the base wins; both changed: the later clock.
 * Without a base, every differing field goes to the later clock.
 */
export function mergeRows(input: ConflictInput): WireRow {
  const { base, terminal, central, counters } = input;
  const later = terminalIsLater(input.terminalHlc, input.centralHlc);
  const row: WireRow = { ...central };
  for (const col of input.columns) {
    const t = terminal[col];
    const c = central[col];
    if (t === undefined) continue;
    if (counters.includes(col) && base) {
      row[col] = roundDecimal(toNumber(c) + (toNumber(t) - toNumber(base[col])));
      continue;
    }
    if (sameValue(t, c)) continue;
    const terminalChanged = base ? !sameValue(t, base[col]) : true;
    const centralChanged = base ? !sameValue(c, base[col]) : true;
    if (terminalChanged && (!centralChanged || later)) row[col] = t;
  }
  return row;
}

/** Decides a conflict by the table's strategy. */
export function decideConflict(input: ConflictInput): ConflictOutcome {
  switch (input.strategy) {
    case 'TERMINAL_WINS':
      return { kind: 'TERMINAL_WINS', row: { ...input.central, ...input.terminal } };
    case 'CENTRAL_WINS':
      return { kind: 'CENTRAL_WINS', row: input.central };
    case 'LAST_WRITE_WINS':
      return terminalIsLater(input.terminalHlc, input.centralHlc)
        ? { kind: 'TERMINAL_WINS', row: { ...input.central, ...input.terminal } }
        : { kind: 'CENTRAL_WINS', row: input.central };
    case 'MERGE':
      return { kind: 'MERGED', row: mergeRows(input) };
    case 'MANUAL_MERGE':
      return { kind: 'PARKED' };
  }
}

/** The conflict input for a catalog table. */
export function conflictInput(
  entry: CatalogEntry,
  sides: Pick<ConflictInput, 'base' | 'terminal' | 'central' | 'terminalHlc' | 'centralHlc'>,
): ConflictInput {
  return {
    strategy: entry.conflictStrategy,
    counters: entry.counters ?? [],
    columns: entry.wireColumns.map((c) => c.name),
    ...sides,
  };
}
