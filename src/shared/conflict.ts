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

/** Rounds away binary noise from decimal sums (0.1 + 0.2); a sum that rounds to zero is 0, never -0. */
function roundDecimal(n: number): number {
  const r = Number(n.toFixed(9));
  return r === 0 ? 0 : r;
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

/**
 * What a decided conflict means for each side, the one map from an outcome to what
 * gets written. Central applies it when a push meets a newer row; the terminal when it
 * records central's answer to a push and when a pull meets its own pending change.
 */
export interface ConflictEffect {
  /** How it ended, as answered and recorded (PARKED: a supervisor decides later). */
  readonly resolution: ConflictOutcome['kind'];
  /** The conflict record: open in the supervisor's inbox, or resolved. */
  readonly record: 'open' | 'resolved';
  /** The row that now stands (the terminal's over central's, central's, or the merge); null while parked. */
  readonly row: WireRow | null;
  /** Central must end up with `row`: central writes it, the terminal's change (or the merged row) still goes up. */
  readonly toCentral: boolean;
  /** The terminal must end up with `row` over its own: it writes it, and its pending change for the row is superseded. */
  readonly toTerminal: boolean;
}

export function conflictEffect(outcome: ConflictOutcome): ConflictEffect {
  switch (outcome.kind) {
    case 'TERMINAL_WINS':
      return { resolution: 'TERMINAL_WINS', record: 'resolved', row: outcome.row, toCentral: true, toTerminal: false };
    case 'CENTRAL_WINS':
      return { resolution: 'CENTRAL_WINS', record: 'resolved', row: outcome.row, toCentral: false, toTerminal: true };
    case 'MERGED':
      return { resolution: 'MERGED', record: 'resolved', row: outcome.row, toCentral: true, toTerminal: true };
    case 'PARKED':
      return { resolution: 'PARKED', record: 'open', row: null, toCentral: false, toTerminal: false };
  }
}
