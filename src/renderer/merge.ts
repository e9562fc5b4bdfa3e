/**
 * The merge editor's logic (pure): the fields of a conflict side by side, which
 * differ, a choice per field (this terminal, central, or a typed value) and the
 * merged row those choices make.
 */
import type { ConflictView } from '../shared/ipc.js';

export type Side = 'terminal' | 'central';
export type Choice = { readonly kind: Side } | { readonly kind: 'custom'; readonly text: string };

export interface FieldRow {
  readonly field: string;
  readonly base: unknown;
  readonly terminal: unknown;
  readonly central: unknown;
  /** This terminal and central disagree: a choice is needed. */
  readonly differs: boolean;
  readonly changedHere: boolean;
  readonly changedAtCentral: boolean;
}

/** Fields that identify or version the row: shown, never edited. */
const FIXED = new Set(['id', 'version', 'serverId', 'server_id']);

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function fieldRows(c: Pick<ConflictView, 'base' | 'terminal' | 'central'>): FieldRow[] {
  const names: string[] = [];
  for (const row of [c.central, c.terminal, c.base]) for (const k of Object.keys(row ?? {})) if (!names.includes(k)) names.push(k);
  return names.map((field) => {
    const base = c.base?.[field];
    const terminal = c.terminal?.[field];
    const central = c.central?.[field];
    return {
      field,
      base,
      terminal,
      central,
      differs: !FIXED.has(field) && !same(terminal, central),
      changedHere: c.base !== null && !same(base, terminal),
      changedAtCentral: c.base !== null && !same(base, central),
    };
  });
}

/** Where only one side changed a field, that side; otherwise central (HQ's data). */
export function defaultChoice(r: FieldRow): Choice {
  if (r.changedHere && !r.changedAtCentral) return { kind: 'terminal' };
  return { kind: 'central' };
}

/** A typed value read like the field's current values: numbers stay numbers, booleans booleans, '' is empty. */
export function parseTyped(text: string, like: unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, value: null };
  if (typeof like === 'number') {
    const n = Number(t);
    return Number.isFinite(n) ? { ok: true, value: n } : { ok: false, error: `"${text}" is not a number` };
  }
  if (typeof like === 'boolean') {
    if (t === 'true' || t === 'false') return { ok: true, value: t === 'true' };
    return { ok: false, error: 'type true or false' };
  }
  if (typeof like === 'object' && like !== null) {
    try {
      return { ok: true, value: JSON.parse(t) as unknown };
    } catch {
      return { ok: false, error: 'not valid JSON' };
    }
  }
  return { ok: true, value: text };
}

export interface Merged {
  readonly row: Record<string, unknown>;
  /** field -> why its typed value is not usable */
  readonly errors: Readonly<Record<string, string>>;
}

export function mergedRow(rows: readonly FieldRow[], choices: Readonly<Record<string, Choice>>): Merged {
  const row: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const r of rows) {
    if (!r.differs) {
      row[r.field] = r.central !== undefined ? r.central : r.terminal;
      continue;
    }
    const choice = choices[r.field] ?? defaultChoice(r);
    if (choice.kind === 'custom') {
      const parsed = parseTyped(choice.text, r.central ?? r.terminal ?? r.base);
      if (parsed.ok) row[r.field] = parsed.value;
      else errors[r.field] = parsed.error;
    } else {
      row[r.field] = choice.kind === 'terminal' ? r.terminal : r.central;
    }
  }
  return { row, errors };
}
