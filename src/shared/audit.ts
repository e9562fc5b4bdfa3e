/**
 * The convergence audit's common ground (`tillsync audit`): how a synced row is
 * written down canonically, its hash, the digest of a range of rows, the order of ids
 * that ranges follow, and how central answers one range. Central and the till both
 * compute digests with these functions, each from its own rows, so equal rows give
 * equal digests whatever each database stores (SQLite's 0/1 and JSON text, PostgreSQL's
 * booleans and jsonb). Pure: no node, DOM or electron imports.
 */
import type { CatalogEntry, WireValue } from './catalog/index.js';

/** A range of ids: those after `after` (exclusive; null: from the first) up to `upTo` (inclusive; null: to the last). */
export interface IdRange {
  readonly after: string | null;
  readonly upTo: string | null;
}

export const WHOLE_RANGE: IdRange = { after: null, upTo: null };

/** One row as the audit sees it: its id, the version its side holds (null: none recorded) and its content hash (contentHash). */
export interface AuditRow {
  readonly id: string;
  readonly version: number | null;
  readonly hash: string;
}

/** How many rows a range holds and the digest of their hashes. */
export interface RangeDigest {
  readonly count: number;
  readonly digest: string;
}

/**
 * The order ranges follow: UTF-8 byte order, which is SQLite's BINARY collation and
 * PostgreSQL's "C" collation (code point order). JavaScript's `<` compares UTF-16 code
 * units, which differs for characters above U+FFFF against U+E000..U+FFFF.
 */
export function compareIds(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

export function inRange(id: string, r: IdRange): boolean {
  return (r.after === null || compareIds(id, r.after) > 0) && (r.upTo === null || compareIds(id, r.upTo) <= 0);
}

/** Whether a range can hold any id at all (`after` sorts before `upTo`). */
export function rangeIsValid(r: IdRange): boolean {
  return r.after === null || r.upTo === null || compareIds(r.after, r.upTo) < 0;
}

const ZONELESS = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2})(:\d{2}(\.\d+)?)?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** What toISOString writes (and central's driver gives): already canonical. */
const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A timestamp as one instant in ISO form (milliseconds, UTC); a zone-less one is UTC, as SQLite writes them. Unreadable: as it is. */
function canonicalTimestamp(v: unknown): unknown {
  if (typeof v === 'string' && CANONICAL_INSTANT.test(v)) return v;
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string') {
    const m = ZONELESS.exec(v);
    ms = Date.parse(m ? `${m[1]}T${m[2]}${m[3] ?? ':00'}Z` : DATE_ONLY.test(v) ? `${v}T00:00:00Z` : v);
    if (Number.isNaN(ms)) return v;
  } else return v;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

/** A JSON value with object keys sorted (jsonb keeps its own key order; SQLite keeps the text it was given). */
function sortedJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedJson);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = sortedJson((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** One column's value in canonical form, from either side's representation of it. */
export function canonicalValue(type: CatalogEntry['wireColumns'][number]['def']['type'], v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') v = Number(v);
  switch (type) {
    case 'boolean':
      if (typeof v === 'number') return v !== 0;
      if (v === 'true' || v === 'false') return v === 'true';
      return v;
    case 'integer':
    case 'numeric':
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      return v;
    case 'timestamp':
      return canonicalTimestamp(v);
    case 'json':
      if (typeof v === 'string') {
        try {
          return sortedJson(JSON.parse(v));
        } catch {
          return v;
        }
      }
      return sortedJson(v);
    case 'text':
      return typeof v === 'number' ? String(v) : v;
  }
}

/**
 * A row's canonical text: its id, then every business column of the catalog in catalog
 * order (central names), each in canonical form. The version is kept apart, so a
 * difference can say whether the content or only the version differs.
 */
export function canonicalRow(entry: Pick<CatalogEntry, 'wireColumns'>, id: string, wire: Readonly<Record<string, WireValue | unknown>>): string {
  const values: unknown[] = [id];
  for (const c of entry.wireColumns) values.push(canonicalValue(c.def.type, wire[c.name]));
  return JSON.stringify(values);
}

// Four 32-bit lanes (128 bits), each an FNV-style multiply over the UTF-16 units with
// its own seed and prime (written inline in the loop), finished with murmur3's avalanche and cross-mixed. Not a
// security hash: it only has to make an accidental equal digest of unequal rows
// vanishingly unlikely.
const SEEDS = [0x811c9dc5, 0x9e3779b9, 0x85ebca6b, 0xc2b2ae35] as const;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The 128-bit hash of a text, as 32 hex digits. */
export function hash128(text: string): string {
  let a: number = SEEDS[0];
  let b: number = SEEDS[1];
  let c: number = SEEDS[2];
  let d: number = SEEDS[3];
  for (let i = 0; i < text.length; i++) {
    const u = text.charCodeAt(i);
    // Every step stays a 32-bit integer (`| 0`), which keeps V8 on its integer path.
    a = Math.imul(a ^ u, 0x01000193);
    b = Math.imul(b ^ u, 0x01000197);
    c = Math.imul(((c ^ u) + i) | 0, 0x0100019d);
    d = Math.imul(d ^ (u << 8) ^ i, 0x010001a3);
  }
  const n = text.length;
  a = fmix(a ^ n);
  b = fmix(b ^ a);
  c = fmix(c ^ b);
  d = fmix(d ^ c);
  a = fmix(a ^ d);
  return hex(a) + hex(b) + hex(c) + hex(d);
}

const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');

/** The hash of a row's content (no version), from its wire image in either side's representation. */
export function contentHash(entry: Pick<CatalogEntry, 'wireColumns'>, id: string, wire: Readonly<Record<string, unknown>>): string {
  return hash128(canonicalRow(entry, id, wire));
}

/** What one row adds to a digest: its content hash and its version, so a row whose version differs is not in step either. */
export function rowDigestHash(row: AuditRow): string {
  return hash128(`${row.version ?? ''}\u0000${row.hash}`);
}

/**
 * Digests of runs of consecutive rows: the lane-wise sum (mod 2^32) of the rows'
 * rowDigestHash, kept as prefix sums, so each row is hashed once and any run's digest
 * is a subtraction. A sum does not depend on the order rows are read in and cannot
 * cancel a row against itself; ids are unique, so no row is counted twice.
 */
export class RowDigests {
  private readonly prefix: Uint32Array;

  constructor(rows: readonly AuditRow[]) {
    const p = new Uint32Array((rows.length + 1) * 4);
    for (let k = 0; k < rows.length; k++) {
      const h = rowDigestHash(rows[k] as AuditRow);
      for (let i = 0; i < 4; i++) p[(k + 1) * 4 + i] = ((p[k * 4 + i] as number) + parseInt(h.slice(i * 8, i * 8 + 8), 16)) >>> 0;
    }
    this.prefix = p;
  }

  /** The digest of rows[from] up to rows[to - 1]. */
  of(from: number, to: number): RangeDigest {
    let digest = '';
    for (let i = 0; i < 4; i++) digest += hex(((this.prefix[to * 4 + i] as number) - (this.prefix[from * 4 + i] as number)) >>> 0);
    return { count: to - from, digest };
  }
}

export function digestOf(rows: readonly AuditRow[]): RangeDigest {
  return new RowDigests(rows).of(0, rows.length);
}

/** Central's answer for one requested range. */
export interface RangeAnswer extends RangeDigest {
  /** The range answered: as asked, or cut short at the last row central read when `complete` is false. */
  readonly range: IdRange;
  /** The range asked for reached its end; false: (range.upTo, asked upTo] is still to be asked. */
  readonly complete: boolean;
  /** The range split in parts of about equal counts (by central's rows), each with its digest: when it holds more rows than `listUpTo`. */
  readonly parts?: (RangeDigest & { readonly range: IdRange })[];
  /** Every row of the range: when it holds at most `listUpTo` rows. */
  readonly rows?: AuditRow[];
}

/**
 * How central answers one range from its rows in it (in id order, `complete` when they
 * are all of the range's rows, else the first ones): at most `listUpTo` rows (and always
 * a single row) are listed, more are split into `fanOut` parts of about equal counts. Pure; the audit test
 * simulates central with it.
 */
export function answerRange(asked: IdRange, rows: AuditRow[], complete: boolean, opts: { fanOut: number; listUpTo: number }): RangeAnswer {
  const last = rows.at(-1);
  const range: IdRange = complete ? asked : { after: asked.after, upTo: last ? last.id : asked.after };
  const digests = new RowDigests(rows);
  const whole = digests.of(0, rows.length);
  // A single row cannot be split further: it is listed whatever `listUpTo` says.
  if (rows.length <= Math.max(1, opts.listUpTo)) return { range, complete, ...whole, rows };
  const parts: (RangeDigest & { range: IdRange })[] = [];
  const n = Math.min(opts.fanOut, rows.length);
  let after = range.after;
  for (let p = 0; p < n; p++) {
    const from = Math.floor((p * rows.length) / n);
    const to = Math.floor(((p + 1) * rows.length) / n);
    const upTo = p === n - 1 ? range.upTo : (rows[to - 1] as AuditRow).id;
    parts.push({ range: { after, upTo }, ...digests.of(from, to) });
    after = upTo;
  }
  return { range, complete, ...whole, parts };
}
