/**
 * Fuzz of every endpoint with generated hostile requests (issue 13, "No 5xx for any
 * client input"; DESIGN.md invariant 13: "No client input gets a 5xx, and a refused
 * request changes nothing"). A seeded PRNG generates every request; the seed is
 * printed, and a failure names the seed and the request's number, so a run replays
 * exactly:
 *
 *   TILLSYNC_FUZZ_SEED=<seed> npx vitest run test/server/fuzz.test.ts
 *   TILLSYNC_FUZZ_REQUESTS=20000 npx vitest run test/server/fuzz.test.ts    (the long mode)
 *   TEST_DATABASE_URL=postgres://... npx vitest run test/server/fuzz.test.ts (on PostgreSQL)
 *
 * Phase 1, refused by design (nine requests in ten): wrong types, huge strings, deep
 * nesting, unicode and NUL, huge numbers, missing and extra fields, unknown entity
 * types, wrong content types, malformed JSON, malformed HTTP over a raw socket, no or
 * wrong credentials, a terminal acting as another, requests that name what does not
 * exist. Each is made so that the server must refuse it: the route's own zod schema
 * is the oracle, and a body it would accept goes out with credentials that cannot use
 * it. Sent eight at a time against a fixed state: every answer must be a documented
 * 4xx no larger than MAX_ERROR_BYTES, no connection may be reset, and a digest of every
 * table (tableDigest) must not move.
 *
 * Phase 2, hostile values where the schemas accept them (one request in ten): edge
 * lengths, unicode, NUL, extreme numbers and dates in otherwise valid requests of the
 * callers allowed to make them. These may be accepted; sent one at a time with a
 * digest after each: never a 5xx, and a refusal changes nothing.
 */
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { MAX_BODY_DEPTH } from '../../src/server/http-guards.js';
import {
  CATALOG,
  JSON_MAX_DEPTH,
  KEY_MAX_LENGTH,
  LOCAL_ONLY_COLUMNS,
  pullable,
  pushable,
  TEXT_MAX_LENGTH,
  type CatalogEntry,
  type WireColumn,
} from '../../src/shared/catalog/index.js';
import {
  ConflictListQuery,
  CreateStoreRequest,
  CreateTerminalRequest,
  HeartbeatRequest,
  PullQuery,
  PushRequest,
  ResolveRequest,
  StatusQuery,
  SyncAllRequest,
  TERMINAL_ID,
  UpdateTerminalRequest,
} from '../../src/shared/protocol.js';
import { ADMIN_TOKEN, onPostgres, startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { errorShapeProblems, httpExchange, rawExchange, tableDigest, type HttpAnswer } from '../helpers/hostile.js';
import { mulberry32 } from '../../src/shared/prng.js';

/**
 * Every table's digest, after central has written the pull positions it keeps in memory
 * (a position of an earlier, accepted pull is written a moment later by design: it must
 * not count against the request digested next).
 */
async function digestOf(fx: { readonly main: { readonly central: { flushPositions(): Promise<void> }; readonly db: Parameters<typeof tableDigest>[0] } }) {
  await fx.main.central.flushPositions();
  return tableDigest(fx.main.db);
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(v)}`);
  return n;
}

const SEED = envInt('TILLSYNC_FUZZ_SEED', 20_261_206);
const REQUESTS = envInt('TILLSYNC_FUZZ_REQUESTS', 5000);
const ACCEPTED_PHASE = Math.ceil(REQUESTS / 10);
const REFUSED_PHASE = REQUESTS - ACCEPTED_PHASE;
/** Requests in flight at once (phase 1), and requests between two digests. */
const CONCURRENCY = 8;
const BATCH = 100;
/** The second central's body limit: bigger bodies are refused with a 413 there. */
const SMALL_BODY_LIMIT = 64 * 1024;

// ------------------------------------------------------------------ the PRNG

/** Seeded choices over mulberry32 (src/shared/prng.ts): the same sequence on every machine for a seed. */
class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  weighted<T>(xs: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of xs) total += w;
    let r = this.next() * total;
    for (const [w, x] of xs) {
      r -= w;
      if (r < 0) return x;
    }
    return (xs[xs.length - 1] as readonly [number, T])[1];
  }
}

// ------------------------------------------------------------------ hostile values

const CHARSETS: readonly (readonly string[])[] = [
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:'],
  [...' \t\r\n"\\/{}[]:,\'`<>&%$#@!?*;=+~|^'],
  [...'éøßçñüЖЯ中文字符日本語한국어عربيעברית'],
  ['😀', '🧾', '💳', '🏪', '👨‍👩‍👧', '𝔘'],
  ['\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u2028', '\u2029', '\ufeff', '\u200b', '\u202e'],
  ['\ud800', '\udbff', '\udc00', '\udfff'],
  ['\u0301', '\u0336', '\u20dd'],
];
/** Charsets every database stores as sent (no NUL, no lone surrogates). */
const CLEAN_CHARSETS = CHARSETS.filter((set) => !set.includes('\u0000') && !set.includes('\ud800'));
const LENGTHS = [0, 1, 2, 7, 8, 63, 64, 65, 100, 128, 129, 199, 200, 201, 500, 501, 1000, 2700, 3000, 10_000, TEXT_MAX_LENGTH + 1];
const NUMBERS = [0, -0, 1, -1, 0.5, 1.5, -1.5, 1e21, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) - 2, 1_000_000_001, 4_294_967_296, 123_456_789.123_456_79];

/** Lone surrogates replaced (a URL cannot carry them: encodeURIComponent throws). */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * Text of about `length` UTF-16 units from a few charsets. Up to 4,096 characters it
 * does not repeat (a repeated chunk compresses, and would slip under the btree limit
 * that a real id of that length hits); longer, a random chunk is repeated, so megabytes
 * are cheap.
 */
function text(rng: Rng, length: number, charsets: readonly (readonly string[])[] = CHARSETS): string {
  if (length === 0) return '';
  const sets = [rng.pick(charsets), rng.pick(charsets)];
  const chunk: string[] = [];
  for (let i = 0, n = Math.min(length, 4096); i < n; i++) chunk.push(rng.pick(rng.pick(sets)));
  const base = chunk.join('');
  return base.repeat(Math.ceil(length / base.length)).slice(0, length);
}

function hostileLength(rng: Rng): number {
  return rng.chance(0.01) ? rng.range(1_000_000, 2_000_000) : rng.pick(LENGTHS);
}

/** What a request is made of while it is generated. */
interface Ctx {
  readonly rng: Rng;
  readonly fx: Fixture;
  /** Deep nesting to splice in after JSON.stringify (which would overflow on it): marker string -> JSON text. */
  readonly deep: Map<string, string>;
  readonly labels: string[];
}

/** A marker for nesting deeper than the body limit, in arrays or objects. */
function deepValue(ctx: Ctx): string {
  const depth = ctx.rng.pick([MAX_BODY_DEPTH + 1, MAX_BODY_DEPTH + 2, 50, 100, 1000, 20_000, 100_000]);
  const marker = `\ue000deep${ctx.deep.size}\ue000`;
  const leaf = JSON.stringify(ctx.rng.pick(['x', 1, null, 'SaleOrder']));
  ctx.deep.set(
    marker,
    ctx.rng.chance(0.5) ? `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}` : `${'{"k":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`,
  );
  ctx.labels.push(`deep ${depth}`);
  return marker;
}

function scalar(ctx: Ctx): unknown {
  const rng = ctx.rng;
  return rng.weighted<() => unknown>([
    [5, () => text(rng, hostileLength(rng))],
    [3, () => rng.pick(NUMBERS)],
    [1, () => rng.chance(0.5)],
    [1, () => null],
  ])();
}

/** Any JSON value: a scalar, a small array or object with hostile keys, or nesting over the limit. */
function anyValue(ctx: Ctx, depth = 0): unknown {
  const rng = ctx.rng;
  if (depth < 3 && rng.chance(0.2)) {
    const n = rng.range(0, 4);
    if (rng.chance(0.5)) return Array.from({ length: n }, () => anyValue(ctx, depth + 1));
    return Object.fromEntries(Array.from({ length: n }, () => [text(rng, rng.pick([0, 1, 8, 70, 300])), anyValue(ctx, depth + 1)]));
  }
  if (rng.chance(0.03)) return deepValue(ctx);
  return scalar(ctx);
}

/** A value of the wrong JSON type for a field of this kind (never null: every column is nullable). */
function wrongType(ctx: Ctx, kind: 'string' | 'number' | 'boolean' | 'object' | 'array'): unknown {
  const rng = ctx.rng;
  const options: unknown[] = [];
  if (kind !== 'string') options.push(text(rng, rng.pick([0, 1, 10, 300])));
  if (kind !== 'number') options.push(rng.pick(NUMBERS));
  if (kind !== 'boolean') options.push(rng.chance(0.5));
  if (kind !== 'object') options.push({ [text(rng, 5)]: scalar(ctx) });
  if (kind !== 'array') options.push([scalar(ctx)]);
  return rng.pick(options);
}

/** A key no schema knows (and no column has): an unknown field wherever objects are strict. */
function unknownKey(ctx: Ctx): string {
  return `zz${text(ctx.rng, ctx.rng.pick([0, 1, 5, 64, 300, 5000]))}`;
}

// ------------------------------------------------------------------ the fixture

type Who = 'admin' | 'A' | 'B' | 'D' | 'none' | 'wrong' | 'malformed';

interface Fixture {
  readonly main: TestCentral;
  readonly small: TestCentral;
  /** Terminal A (store 1) acts in every valid request; B is in store 2; D is in store 1 and disabled. */
  readonly a: ProvisionedTerminal;
  readonly b: ProvisionedTerminal;
  readonly d: ProvisionedTerminal;
  readonly openConflict: string;
  readonly resolvedConflict: string;
  readonly orderOfA: string;
}

const PUSHABLE = CATALOG.filter(pushable);
const PULLABLE = CATALOG.filter(pullable);
const UP_ONLY = CATALOG.filter((e) => !pullable(e));

function authHeaders(ctx: Ctx, fx: Fixture, who: Who): Record<string, string> {
  const rng = ctx.rng;
  switch (who) {
    case 'admin':
      return { authorization: `Bearer ${ADMIN_TOKEN}` };
    case 'A':
      return { authorization: `Bearer ${fx.a.apiKey}` };
    case 'B':
      return { authorization: `Bearer ${fx.b.apiKey}` };
    case 'D':
      return { authorization: `Bearer ${fx.d.apiKey}` };
    case 'none':
      return {};
    case 'wrong':
      return { authorization: `Bearer tsk_${Array.from({ length: 43 }, () => rng.pick([...'abcdefghijklmnopqrstuvwxyz0123456789'])).join('')}` };
    case 'malformed':
      return {
        authorization: rng.pick([
          'Bearer',
          'Bearer ',
          'Basic dXNlcjpwYXNz',
          `Bearer ${fx.a.apiKey} extra`,
          `Token ${ADMIN_TOKEN}`,
          `Bearer ${headerText(rng, rng.pick([1, 100, 8000]))}x`,
        ]),
      };
  }
}

/** Header-safe text (what node's client lets through: printable ASCII and latin-1); hostile bytes go over raw sockets. */
function headerText(rng: Rng, length: number): string {
  const out: string[] = [];
  for (let i = 0; i < length; i++) out.push(String.fromCharCode(rng.chance(0.8) ? rng.range(0x21, 0x7e) : rng.range(0xa0, 0xff)));
  return out.join('');
}

// ------------------------------------------------------------------ requests

interface Fuzzed {
  readonly n: number;
  readonly label: string;
  readonly server: 'main' | 'small';
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Sent as these bytes over a socket instead of through the HTTP client. */
  readonly raw?: string;
  /** Answered by engine.io (socket.io's transport), not by the API: only "no 5xx" applies. */
  readonly foreign?: boolean;
}

/** The body as sent: JSON with the deep markers spliced in. */
function encode(ctx: Ctx, body: unknown): string {
  let out = JSON.stringify(body) ?? 'null';
  for (const [marker, deep] of ctx.deep) out = out.split(JSON.stringify(marker)).join(deep);
  return out;
}

/** What fastify hands the route as its query: repeated keys become arrays. */
function queryObject(pairs: readonly (readonly [string, string])[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

const qs = (pairs: readonly (readonly [string, string])[]) =>
  pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeURIComponent(wellFormed(k))}=${encodeURIComponent(wellFormed(v))}`).join('&')}`;

/** Whether a route's schema accepts this (the body exactly as the server will parse it). */
function accepts(schema: z.ZodType, value: unknown): boolean {
  return schema.safeParse(value).success;
}

type Mutation = (ctx: Ctx, body: Record<string, unknown>) => void;

/** A JSON-body endpoint: a valid body for its callers, and ways to break it. */
interface BodyEndpoint {
  readonly name: string;
  readonly method: 'POST' | 'PATCH';
  readonly schema: z.ZodType;
  /** Who may make this request with a valid body (and would change something). */
  readonly allowed: readonly Who[];
  /** Who is refused whatever the body. */
  readonly refused: readonly Who[];
  path(ctx: Ctx, fx: Fixture): string;
  valid(ctx: Ctx, fx: Fixture): Record<string, unknown>;
  /** Field mutations; each usually breaks the body (the schema decides). */
  readonly breakers: readonly (readonly [string, Mutation])[];
  /** Valid requests refused for what they name (unknown ids, another store's conflict...). */
  readonly semantic: readonly (readonly [string, (ctx: Ctx, fx: Fixture) => { who: Who; body: unknown; path?: string }])[];
}

const setField =
  (field: string, values: (ctx: Ctx) => unknown): Mutation =>
  (ctx, body) => {
    body[field] = values(ctx);
  };
const dropField =
  (field: string): Mutation =>
  (_ctx, body) => {
    delete body[field];
  };
const longText = (ctx: Ctx, over: number) => text(ctx.rng, over + 1 + ctx.rng.pick([0, 0, 1, 100, 5000]));
const badTerminalId = (ctx: Ctx) =>
  ctx.rng.pick<() => unknown>([
    () => '',
    () => ' ',
    () => `-${text(ctx.rng, 5)}`,
    () => `a b`,
    () => longText(ctx, 64),
    () => text(ctx.rng, ctx.rng.pick([1, 10, 3000])),
    () => wrongType(ctx, 'string'),
  ])();

/** A valid value for a catalog column. */
function validValue(ctx: Ctx, col: WireColumn, fx: Fixture): unknown {
  const d = col.def;
  switch (d.type) {
    case 'text':
      if (d.oneOf) return ctx.rng.pick(d.oneOf);
      if (col.name === 'store_id') return fx.a.storeId;
      return d.references ? null : `v${ctx.rng.int(1000)}`;
    case 'integer':
      return ctx.rng.int(100);
    case 'numeric':
      return ctx.rng.chance(0.5) ? 12.5 : '12.50';
    case 'boolean':
      return ctx.rng.chance(0.5);
    case 'timestamp':
      return '2026-01-01T00:00:00Z';
    case 'json':
      return { k: [1, 'two'] };
  }
}

/** A value that breaks a column (length, type, enum, format, nesting). The schema has the last word. */
function badValue(ctx: Ctx, col: WireColumn): unknown {
  const rng = ctx.rng;
  const d = col.def;
  switch (d.type) {
    case 'text':
      if (d.oneOf) return rng.pick([`${rng.pick(d.oneOf)}x`, text(rng, hostileLength(rng)), wrongType(ctx, 'string')]);
      return rng.pick([longText(ctx, d.references ? KEY_MAX_LENGTH : TEXT_MAX_LENGTH), `a\u0000b`, wrongType(ctx, 'string')]);
    case 'integer':
      return rng.pick(['1', 1.5, 2 ** 53 + 2, 1e308, -1e308, true, wrongType(ctx, 'number')]);
    case 'numeric':
      return rng.pick(['abc', '1e5', '', '1.2.3', '1234567890123456789', '0.1234567890123', ' 1', true, {}]);
    case 'boolean':
      return rng.pick(['true', 1, 0, wrongType(ctx, 'boolean')]);
    case 'timestamp':
      return rng.pick(['yesterday', '2026-13-01T00:00:00Z', '0000-01-01T00:00:00Z', '2026-01-01', '2026-01-01T00:00:00', 1_700_000_000_000, text(rng, 30)]);
    case 'json': {
      let v: unknown = 'leaf';
      for (let i = 0, n = rng.range(JSON_MAX_DEPTH + 1, MAX_BODY_DEPTH - 5); i < n; i++) v = [v];
      return rng.pick([v, { big: 'j'.repeat(100_001) }, { nul: 'a\u0000b' }]);
    }
  }
}

function validChange(ctx: Ctx, fx: Fixture, entry: CatalogEntry = ctx.rng.pick(PUSHABLE)): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const col of entry.wireColumns) if (col.def.required || ctx.rng.chance(0.3)) data[col.name] = validValue(ctx, col, fx);
  return {
    changeId: `fz-change-${ctx.rng.int(1e12)}`,
    entityType: entry.entityType,
    entityId: `fz-${entry.table}-${ctx.rng.int(1e9)}`,
    operation: 'CREATE',
    data,
    syncVersion: 0,
  };
}

/** The change's catalog entry (another one if an earlier breaker made its type unknown). */
const entryOf = (ctx: Ctx, ch: Record<string, unknown>): CatalogEntry => CATALOG.find((e) => e.entityType === ch.entityType) ?? ctx.rng.pick(PUSHABLE);
/** The change's data as an object (made one if an earlier breaker removed it). */
function dataOf(ch: Record<string, unknown>): Record<string, unknown> {
  if (typeof ch.data !== 'object' || ch.data === null || Array.isArray(ch.data)) ch.data = {};
  return ch.data as Record<string, unknown>;
}

/** Breaks one field of one change of a push. */
const changeBreakers: readonly (readonly [string, (ctx: Ctx, change: Record<string, unknown>) => void])[] = [
  ['entityType unknown', (ctx, ch) => void (ch.entityType = ctx.rng.pick([`${String(ch.entityType)}x`, text(ctx.rng, hostileLength(ctx.rng)), 'saleorder', '']))],
  ['entityType wrong type', (ctx, ch) => void (ch.entityType = ctx.rng.chance(0.3) ? deepValue(ctx) : wrongType(ctx, 'string'))],
  ['entityType missing', (_ctx, ch) => void delete ch.entityType],
  ['entityId bad', (ctx, ch) => void (ch.entityId = ctx.rng.pick(['', longText(ctx, KEY_MAX_LENGTH), wrongType(ctx, 'string')]))],
  ['operation bad', (ctx, ch) => void (ch.operation = ctx.rng.pick(['UPSERT', 'create', '', wrongType(ctx, 'string')]))],
  ['data wrong type', (ctx, ch) => void (ch.data = ctx.rng.pick<unknown>([[], 'row', 5, true, null]))],
  [
    'data column bad',
    (ctx, ch) => {
      const entry = entryOf(ctx, ch);
      const col = ctx.rng.pick(entry.wireColumns);
      dataOf(ch)[col.name] = badValue(ctx, col);
      ctx.labels.push(`${entry.entityType}.${col.name} (${col.def.type})`);
    },
  ],
  ['data unknown column', (ctx, ch) => void (dataOf(ch)[unknownKey(ctx)] = scalar(ctx))],
  ['data local-only column', (ctx, ch) => void (dataOf(ch)[ctx.rng.pick(LOCAL_ONLY_COLUMNS)] = 1)],
  ['data.id differs', (_ctx, ch) => void (dataOf(ch).id = `${String(ch.entityId)}-other`)],
  ['data missing', (_ctx, ch) => void delete ch.data],
  [
    'baseData bad',
    (ctx, ch) => {
      const col = ctx.rng.pick(entryOf(ctx, ch).wireColumns);
      ch.baseData = ctx.rng.chance(0.3) ? wrongType(ctx, 'object') : { [col.name]: badValue(ctx, col) };
    },
  ],
  ['syncVersion bad', (ctx, ch) => void (ch.syncVersion = ctx.rng.pick<unknown>([-1, 1.5, '1', 2 ** 53 + 2, 1e308, null]))],
  ['hlc bad', (ctx, ch) => void (ch.hlc = ctx.rng.pick<unknown>(['noon', '1:2:3', `${'9'.repeat(16)}:00000:x`, `000001700000000:00000:${'n'.repeat(65)}`, 5]))],
  ['priority bad', (ctx, ch) => void (ch.priority = ctx.rng.pick<unknown>([11, -1, 1.5, '5']))],
  ['createdInMode bad', (ctx, ch) => void (ch.createdInMode = ctx.rng.pick<unknown>(['online', 'BOTH', 1]))],
  ['transactionGroup bad', (ctx, ch) => void (ch.transactionGroup = ctx.rng.pick([longText(ctx, 128), wrongType(ctx, 'string')]))],
  ['changeId bad', (ctx, ch) => void (ch.changeId = ctx.rng.pick(['short', longText(ctx, 128), wrongType(ctx, 'string')]))],
  ['change unknown field', (ctx, ch) => void (ch[unknownKey(ctx)] = anyValue(ctx))],
];

const ENDPOINTS: readonly BodyEndpoint[] = [
  {
    name: 'push',
    method: 'POST',
    schema: PushRequest,
    allowed: ['A', 'admin'],
    refused: ['B', 'D', 'none', 'wrong', 'malformed'],
    path: () => '/api/sync/push',
    valid: (ctx, fx) => ({ terminalId: fx.a.terminalId, changes: Array.from({ length: ctx.rng.range(1, 4) }, () => validChange(ctx, fx)) }),
    breakers: [
      [
        'a change broken',
        (ctx, body) => {
          // An earlier breaker may have replaced the changes.
          if (!Array.isArray(body.changes) || body.changes.length === 0) body.changes = [validChange(ctx, ctx.fx)];
          const changes = body.changes as Record<string, unknown>[];
          const [label, breaker] = ctx.rng.pick(changeBreakers);
          ctx.labels.push(label);
          breaker(ctx, ctx.rng.pick(changes));
        },
      ],
      ['terminalId bad', setField('terminalId', badTerminalId)],
      ['changes wrong type', setField('changes', (ctx) => wrongType(ctx, 'array'))],
      ['changes missing', dropField('changes')],
      ['more than 5,000 changes', setField('changes', () => Array.from({ length: 5001 }, () => ({})))],
      ['schemaHashes bad', setField('schemaHashes', (ctx) => ctx.rng.pick<unknown>([{ [`${ctx.rng.pick(CATALOG).entityType}x`]: 'h' }, { Product: longText(ctx, 64) }, [], 'h']))],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [
      ['as terminal B', (ctx, fx) => ({ who: 'B', body: { terminalId: fx.a.terminalId, changes: [validChange(ctx, fx)] } })],
      ['admin for a terminal that does not exist', (ctx, fx) => ({ who: 'admin', body: { terminalId: `ghost-${ctx.rng.int(1e6)}`, changes: [validChange(ctx, fx)] } })],
    ],
  },
  {
    name: 'resolve',
    method: 'POST',
    schema: ResolveRequest,
    allowed: ['A', 'admin'],
    refused: ['B', 'D', 'none', 'wrong', 'malformed'],
    path: () => '/api/sync/resolve',
    valid: (ctx, fx) =>
      ctx.rng.chance(0.5)
        ? { conflictId: fx.openConflict, resolution: ctx.rng.pick(['TERMINAL_WINS', 'CENTRAL_WINS']) }
        : { conflictId: fx.openConflict, resolution: 'MANUAL_MERGE', resolvedData: { notes: 'merged' }, resolvedBy: 'fuzz' },
    breakers: [
      ['conflictId bad', setField('conflictId', (ctx) => ctx.rng.pick(['', longText(ctx, 100), wrongType(ctx, 'string')]))],
      ['conflictId missing', dropField('conflictId')],
      ['resolution bad', setField('resolution', (ctx) => ctx.rng.pick(['MERGED', 'BOTH', '', wrongType(ctx, 'string')]))],
      ['resolution missing', dropField('resolution')],
      ['resolvedData wrong type', setField('resolvedData', (ctx) => wrongType(ctx, 'object'))],
      ['resolvedBy bad', setField('resolvedBy', (ctx) => ctx.rng.pick([longText(ctx, 200), wrongType(ctx, 'string')]))],
      ['MANUAL_MERGE without resolvedData', (_ctx, body) => void ((body.resolution = 'MANUAL_MERGE'), delete body.resolvedData)],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [
      ['a conflict that does not exist', (ctx) => ({ who: 'A', body: { conflictId: `nope-${ctx.rng.int(1e6)}`, resolution: 'CENTRAL_WINS' } })],
      ['an already resolved conflict', (_ctx, fx) => ({ who: 'admin', body: { conflictId: fx.resolvedConflict, resolution: 'TERMINAL_WINS' } })],
      ['another store\'s conflict', (_ctx, fx) => ({ who: 'B', body: { conflictId: fx.openConflict, resolution: 'CENTRAL_WINS' } })],
      [
        'resolvedData that is not a valid row',
        (ctx, fx) => {
          const po = CATALOG.find((e) => e.entityType === 'PurchaseOrder') as CatalogEntry;
          const col = ctx.rng.pick(po.wireColumns);
          let resolvedData: Record<string, unknown> = { [col.name]: badValue(ctx, col) };
          if (accepts(po.rowSchema, resolvedData)) resolvedData = { [unknownKey(ctx)]: 1 };
          return { who: 'A', body: { conflictId: fx.openConflict, resolution: 'MANUAL_MERGE', resolvedData } };
        },
      ],
      ['resolvedData for another row', (_ctx, fx) => ({ who: 'A', body: { conflictId: fx.openConflict, resolution: 'MANUAL_MERGE', resolvedData: { id: fx.orderOfA } } })],
      ['resolvedData clearing a required field', (_ctx, fx) => ({ who: 'A', body: { conflictId: fx.openConflict, resolution: 'MANUAL_MERGE', resolvedData: { store_id: null } } })],
    ],
  },
  {
    name: 'heartbeat',
    method: 'POST',
    schema: HeartbeatRequest,
    allowed: ['A', 'admin'],
    refused: ['B', 'D', 'none', 'wrong', 'malformed'],
    path: () => '/api/sync/heartbeat',
    valid: (_ctx, fx) => ({
      terminalId: fx.a.terminalId,
      status: 'ONLINE',
      appVersion: '1.0.0',
      outbox: { SaleOrder: { pending: 1, failed: 0, synced: 2, conflicts: 0 } },
      lastSyncAt: '2026-01-01T00:00:00Z',
    }),
    breakers: [
      ['terminalId bad', setField('terminalId', badTerminalId)],
      ['status bad', setField('status', (ctx) => ctx.rng.pick(['online', 'HAPPY', '', wrongType(ctx, 'string')]))],
      ['status missing', dropField('status')],
      ['appVersion bad', setField('appVersion', (ctx) => ctx.rng.pick([longText(ctx, 64), wrongType(ctx, 'string')]))],
      ['lastSyncAt bad', setField('lastSyncAt', (ctx) => ctx.rng.pick(['yesterday', '2026-01-01', '0000-01-01T00:00:00Z', wrongType(ctx, 'string')]))],
      ['outbox wrong type', setField('outbox', (ctx) => wrongType(ctx, 'object'))],
      [
        'outbox counts bad',
        setField('outbox', (ctx) => ({
          SaleOrder: ctx.rng.pick<unknown>([
            { pending: -1, failed: 0, synced: 0, conflicts: 0 },
            { pending: 1.5, failed: 0, synced: 0, conflicts: 0 },
            { pending: 1e308, failed: 0, synced: 0, conflicts: 0 },
            { pending: 1_000_000_001, failed: 0, synced: 0, conflicts: 0 },
            { pending: 1 },
            { pending: 1, failed: 0, synced: 0, conflicts: 0, lost: 1 },
            'many',
          ]),
        })),
      ],
      ['outbox key bad', setField('outbox', (ctx) => ({ [ctx.rng.chance(0.5) ? '' : longText(ctx, 64)]: { pending: 0, failed: 0, synced: 0, conflicts: 0 } }))],
      ['outbox too many types', setField('outbox', () => Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`T${i}`, { pending: 0, failed: 0, synced: 0, conflicts: 0 }])))],
      ['schemaVersion bad', setField('schemaVersion', (ctx) => ctx.rng.pick(['', longText(ctx, 64), wrongType(ctx, 'string')]))],
      ['oldestPendingAt bad', setField('oldestPendingAt', (ctx) => ctx.rng.pick(['yesterday', '2026-01-01', wrongType(ctx, 'string')]))],
      [
        'unsyncedSales bad',
        setField('unsyncedSales', (ctx) =>
          ctx.rng.pick<unknown>([{ count: -1, total: 0 }, { count: 1.5, total: 0 }, { count: 1, total: -0.01 }, { count: 1, total: 1e300 }, { count: 1 }, { count: 1, total: 1, extra: 1 }, 'lots']),
        ),
      ],
      ['cursors bad', setField('cursors', (ctx) => ctx.rng.pick<unknown>([{ SaleOrder: 7 }, { SaleOrder: '' }, { '': 'x' }, { Product: longText(ctx, 400) }, wrongType(ctx, 'object')]))],
      [
        'recentRuns bad',
        setField('recentRuns', (ctx) =>
          ctx.rng.pick<unknown>([
            Array.from({ length: 11 }, () => ({ kind: 'FULL', trigger: 't', startedAt: '2026-01-01T00:00:00Z', finishedAt: null, pushed: 0, pulled: 0, conflicts: 0, failed: 0, errors: [] })),
            [{ kind: 'FULL' }],
            [{ kind: 'FULL', trigger: 't', startedAt: 'then', finishedAt: null, pushed: 0, pulled: 0, conflicts: 0, failed: 0, errors: [] }],
            [{ kind: 'FULL', trigger: 't', startedAt: '2026-01-01T00:00:00Z', finishedAt: null, pushed: -1, pulled: 0, conflicts: 0, failed: 0, errors: [longText(ctx, 500)] }],
            wrongType(ctx, 'array'),
          ]),
        ),
      ],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [
      ['as terminal B', (_ctx, fx) => ({ who: 'B', body: { terminalId: fx.a.terminalId, status: 'ONLINE' } })],
      ['admin for a terminal that does not exist', (ctx) => ({ who: 'admin', body: { terminalId: `ghost-${ctx.rng.int(1e6)}`, status: 'ONLINE' } })],
    ],
  },
  {
    name: 'sync all',
    method: 'POST',
    schema: SyncAllRequest,
    allowed: ['A', 'admin'],
    refused: ['B', 'D', 'none', 'wrong', 'malformed'],
    path: () => '/api/sync/all',
    valid: (ctx, fx) => ({ terminalId: fx.a.terminalId, type: ctx.rng.pick(['FULL', 'INCREMENTAL']), reason: 'MANUAL' }),
    breakers: [
      ['terminalId bad', setField('terminalId', badTerminalId)],
      ['both terminalId and allTerminals', setField('allTerminals', () => true)],
      ['neither', dropField('terminalId')],
      ['allTerminals bad', setField('allTerminals', (ctx) => wrongType(ctx, 'boolean'))],
      ['type bad', setField('type', (ctx) => ctx.rng.pick(['PARTIAL', 'full', wrongType(ctx, 'string')]))],
      ['reason bad', setField('reason', (ctx) => ctx.rng.pick(['', longText(ctx, 64), wrongType(ctx, 'string')]))],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [
      ['as terminal B', (_ctx, fx) => ({ who: 'B', body: { terminalId: fx.a.terminalId } })],
      ['all terminals, by a terminal', () => ({ who: 'A', body: { allTerminals: true } })],
      ['a disabled terminal', (_ctx, fx) => ({ who: 'admin', body: { terminalId: fx.d.terminalId } })],
      ['a terminal that does not exist', (ctx) => ({ who: 'admin', body: { terminalId: `ghost-${ctx.rng.int(1e6)}` } })],
    ],
  },
  {
    name: 'stores',
    method: 'POST',
    schema: CreateStoreRequest,
    allowed: ['admin'],
    refused: ['A', 'B', 'D', 'none', 'wrong', 'malformed'],
    path: () => '/api/stores',
    valid: (ctx) => ({ id: `fz-store-${ctx.rng.int(1e9)}`, name: 'Fuzz store', code: 'FZ', address: '1 Road', timezone: 'UTC', currency: 'EUR' }),
    breakers: [
      ['id bad', setField('id', (ctx) => ctx.rng.pick(['', longText(ctx, KEY_MAX_LENGTH), wrongType(ctx, 'string')]))],
      ['name bad', setField('name', (ctx) => ctx.rng.pick(['', longText(ctx, 200), wrongType(ctx, 'string')]))],
      ['name missing', dropField('name')],
      ['code bad', setField('code', (ctx) => ctx.rng.pick([longText(ctx, 64), wrongType(ctx, 'string')]))],
      ['address bad', setField('address', (ctx) => ctx.rng.pick([longText(ctx, 500), wrongType(ctx, 'string')]))],
      ['currency bad', setField('currency', (ctx) => ctx.rng.pick(['EU', 'EURO', '', wrongType(ctx, 'string')]))],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [['a store that exists', (_ctx, fx) => ({ who: 'admin', body: { id: fx.a.storeId, name: 'again' } })]],
  },
  {
    name: 'terminals',
    method: 'POST',
    schema: CreateTerminalRequest,
    allowed: ['admin'],
    refused: ['A', 'B', 'D', 'none', 'wrong', 'malformed'],
    path: () => '/api/terminals',
    valid: (ctx, fx) => ({ storeId: fx.a.storeId, name: 'Fuzz till', terminalId: `fz-till-${ctx.rng.int(1e9)}` }),
    breakers: [
      ['storeId bad', setField('storeId', (ctx) => ctx.rng.pick(['', longText(ctx, KEY_MAX_LENGTH), wrongType(ctx, 'string')]))],
      ['storeId missing', dropField('storeId')],
      ['name bad', setField('name', (ctx) => ctx.rng.pick(['', longText(ctx, 200), wrongType(ctx, 'string')]))],
      ['terminalId bad', setField('terminalId', badTerminalId)],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [
      ['a store that does not exist', (ctx) => ({ who: 'admin', body: { storeId: `ghost-${ctx.rng.int(1e6)}` } })],
      ['a terminal id that exists', (_ctx, fx) => ({ who: 'admin', body: { storeId: fx.b.storeId, terminalId: fx.a.terminalId } })],
    ],
  },
  {
    name: 'PATCH terminals',
    method: 'PATCH',
    schema: UpdateTerminalRequest,
    allowed: ['admin'],
    refused: ['A', 'B', 'D', 'none', 'wrong', 'malformed'],
    path: (_ctx, fx) => `/api/terminals/${fx.b.terminalId}`,
    valid: (ctx) => (ctx.rng.chance(0.5) ? { name: 'Renamed' } : { disabled: ctx.rng.chance(0.5) }),
    breakers: [
      ['nothing to change', (_ctx, body) => void (delete body.name, delete body.disabled)],
      ['name bad', setField('name', (ctx) => ctx.rng.pick(['', longText(ctx, 200), wrongType(ctx, 'string')]))],
      ['disabled bad', setField('disabled', (ctx) => wrongType(ctx, 'boolean'))],
      ['unknown field', (ctx, body) => void (body[unknownKey(ctx)] = anyValue(ctx))],
    ],
    semantic: [
      ['a terminal that does not exist', (ctx) => ({ who: 'admin', body: { name: 'x' }, path: `/api/terminals/ghost-${ctx.rng.int(1e6)}` })],
      [
        'a malformed terminal id in the path',
        (ctx) => {
          let id = wellFormed(text(ctx.rng, ctx.rng.pick([1, 5, 65, 99, 150, 3000])));
          if (accepts(TERMINAL_ID, id)) id = `${id} `;
          return { who: 'admin', body: { name: 'x' }, path: `/api/terminals/${encodeURIComponent(id)}` };
        },
      ],
    ],
  },
];

/** A request to a JSON-body endpoint that the server must refuse. */
function refusedBodyRequest(ctx: Ctx, fx: Fixture, n: number, ep: BodyEndpoint): Fuzzed {
  const rng = ctx.rng;
  let who: Who = rng.pick(ep.allowed);
  let path = ep.path(ctx, fx);
  let body: unknown = ep.valid(ctx, fx);
  const how = rng.weighted<'field' | 'semantic' | 'credentials' | 'transport'>([
    [55, 'field'],
    [15, 'semantic'],
    [12, 'credentials'],
    [18, 'transport'],
  ]);
  ctx.labels.push(ep.name, how);
  let refusedAnyway = false;
  if (how === 'field') {
    for (let i = 0, k = rng.chance(0.8) ? 1 : rng.range(2, 3); i < k; i++) {
      const [label, breaker] = rng.pick(ep.breakers);
      ctx.labels.push(label);
      breaker(ctx, body as Record<string, unknown>);
    }
  } else if (how === 'semantic') {
    const [label, make] = rng.pick(ep.semantic);
    ctx.labels.push(label);
    const s = make(ctx, fx);
    who = s.who;
    body = s.body;
    path = s.path ?? path;
    refusedAnyway = true;
  } else if (how === 'credentials') {
    who = rng.pick(ep.refused);
    refusedAnyway = true;
  }
  if (how !== 'transport' && rng.chance(0.1)) {
    // Noise on top: more unknown fields, maybe nesting past the limit.
    (body as Record<string, unknown>)[unknownKey(ctx)] = anyValue(ctx);
  }
  let headers: Record<string, string> = { 'content-type': 'application/json' };
  let sent = encode(ctx, body);
  let server: Fuzzed['server'] = 'main';
  if (how === 'transport') {
    const t = rng.pick([
      'content-type',
      'malformed JSON',
      'not an object',
      'deep',
      'empty',
      'too large',
      'bom',
    ] as const);
    ctx.labels.push(t);
    if (t === 'content-type') {
      // No parser but text/plain's (a string is never a valid body): a 415, or a 400.
      headers = { 'content-type': rng.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', `x-fuzz/${headerText(rng, rng.pick([1, 50, 8000]))}`]) };
      refusedAnyway = true;
    } else if (t === 'malformed JSON') {
      const cut = rng.range(0, Math.max(0, sent.length - 1)); // a strict prefix of an object is never JSON
      sent = rng.pick([sent.slice(0, cut), `${sent.slice(0, cut)}\u0000${sent.slice(cut)}x`, `${sent},`, `${sent}}`, `{'a': 1}`, 'NaN', `{"a": Infinity}`, `/*c*/${sent}`, `${sent.slice(0, -1)},}`]);
      refusedAnyway = true;
    } else if (t === 'not an object') {
      sent = rng.pick(['null', '[]', '42', '"text"', 'true', `[${sent}]`]);
      refusedAnyway = true;
    } else if (t === 'deep') {
      ctx.deep.clear();
      sent = encode(ctx, { ...(body as object), [rng.pick(['changes', 'name', 'status', 'terminalId', 'resolvedData', 'zz'])]: deepValue(ctx) });
      refusedAnyway = true;
    } else if (t === 'empty') {
      sent = '';
      refusedAnyway = true;
    } else if (t === 'too large') {
      server = 'small';
      sent = encode(ctx, { ...(body as object), pad: 'p'.repeat(SMALL_BODY_LIMIT + rng.int(10_000)) });
      refusedAnyway = true;
    } else {
      // A byte order mark is skipped by the parser: the body stays as valid as it was.
      sent = `\ufeff${sent}`;
    }
  }
  if (!refusedAnyway && ctx.deep.size === 0 && ep.allowed.includes(who)) {
    // The oracle: what the route's own schema makes of the body exactly as sent. A body
    // it accepts would be applied; it goes out with credentials that cannot use it.
    let parsed: unknown;
    let parses = true;
    try {
      parsed = JSON.parse(sent.replace(/^\ufeff/, ''));
    } catch {
      parses = false;
    }
    if (parses && accepts(ep.schema, parsed)) {
      who = rng.pick(ep.refused);
      ctx.labels.push(`still valid: sent as ${who}`);
    }
  }
  ctx.labels.push(`as ${who}`);
  return { n, label: ctx.labels.join(' / '), server, method: ep.method, path, headers: { ...headers, ...authHeaders(ctx, fx, who) }, body: sent };
}

/** A GET with a query: broken parameters, or credentials that cannot ask. */
function refusedQueryRequest(ctx: Ctx, fx: Fixture, n: number): Fuzzed {
  const rng = ctx.rng;
  const which = rng.pick(['pull', 'conflicts', 'status'] as const);
  ctx.labels.push(which);
  let who: Who = rng.pick(['A', 'admin'] as const);
  let pairs: [string, string][];
  let schema: z.ZodType;
  let refusedAnyway = false;
  if (which === 'pull') {
    schema = PullQuery;
    pairs = [
      ['terminalId', fx.a.terminalId],
      ['entityType', rng.pick(PULLABLE).entityType],
    ];
    if (rng.chance(0.3)) pairs.push(['limit', String(rng.range(1, 5000))]);
    const breaker = rng.pick([
      'unknown param',
      'terminalId bad',
      'terminalId missing',
      'entityType unknown',
      'entityType missing',
      'entityType twice',
      'limit bad',
      'lastSync bad',
      'cursor too long',
      'cursor garbage',
      'cursor ahead',
      'start bad',
      'schemaHash too long',
      'schemaHash mismatch',
      'not pulled',
      'as terminal B',
      'credentials',
    ] as const);
    ctx.labels.push(breaker);
    const set = (k: string, v: string) => {
      pairs = pairs.filter(([key]) => key !== k);
      pairs.push([k, v]);
    };
    switch (breaker) {
      case 'unknown param':
        pairs.push([unknownKey(ctx), text(rng, rng.pick([0, 5, 2000]))]);
        break;
      case 'terminalId bad':
        set('terminalId', String(badTerminalId(ctx)));
        break;
      case 'terminalId missing':
        pairs = pairs.filter(([k]) => k !== 'terminalId');
        break;
      case 'entityType unknown':
        set('entityType', rng.pick(['Widget', 'saleorder', text(rng, hostileLength(rng) % 5000)]));
        break;
      case 'entityType missing':
        pairs = pairs.filter(([k]) => k !== 'entityType');
        break;
      case 'entityType twice':
        pairs.push(['entityType', rng.pick(PULLABLE).entityType]);
        break;
      case 'limit bad':
        set('limit', rng.pick(['abc', '0', '-5', '5001', '1.5', '1e400', '', ' ', 'NaN']));
        break;
      case 'lastSync bad':
        set('lastSync', rng.pick(['yesterday', '2026-01-01', '2026-13-01T00:00:00Z', text(rng, 40)]));
        break;
      case 'cursor too long':
        set('cursor', 'c'.repeat(2049 + rng.int(5000)));
        break;
      case 'cursor garbage':
        set(
          'cursor',
          rng.pick([
            '!!!',
            'not-a-cursor',
            Buffer.from('{"a":1}').toString('base64url'),
            Buffer.from('["s", 5, null]').toString('base64url'),
            Buffer.from('["99999999999999999999999", 0]').toString('base64url'),
            Buffer.from('["1", -1]').toString('base64url'),
            Buffer.from('["1", 0, "yesterday"]').toString('base64url'),
            Buffer.from(text(rng, 50)).toString('base64url'),
          ]),
        );
        refusedAnyway = true;
        break;
      case 'cursor ahead':
        set('cursor', Buffer.from(JSON.stringify(['18446744073709551615', 0])).toString('base64url'));
        refusedAnyway = true;
        break;
      case 'start bad':
        set('start', rng.pick(['beginning', 'SNAPSHOT', '']));
        break;
      case 'schemaHash too long':
        set('schemaHash', 'h'.repeat(65));
        break;
      case 'schemaHash mismatch':
        set('schemaHash', 'deadbeefdeadbeef');
        refusedAnyway = true;
        break;
      case 'not pulled':
        set('entityType', rng.pick(UP_ONLY).entityType);
        refusedAnyway = true;
        break;
      case 'as terminal B':
        who = 'B';
        refusedAnyway = true;
        break;
      case 'credentials':
        who = rng.pick(['D', 'none', 'wrong', 'malformed'] as const);
        refusedAnyway = true;
        break;
    }
  } else if (which === 'conflicts') {
    schema = ConflictListQuery;
    pairs = rng.chance(0.5) ? [['status', 'open']] : [];
    const breaker = rng.pick(['unknown param', 'status bad', 'limit bad', 'terminalId bad', 'credentials'] as const);
    ctx.labels.push(breaker);
    if (breaker === 'unknown param') pairs.push([unknownKey(ctx), text(rng, 10)]);
    else if (breaker === 'status bad') pairs = [['status', rng.pick(['OPEN', 'closed', '', text(rng, 100)])]];
    else if (breaker === 'limit bad') pairs.push(['limit', rng.pick(['0', '1001', 'x', '-1', '2.5'])]);
    else if (breaker === 'terminalId bad') pairs.push(['terminalId', String(badTerminalId(ctx))]);
    else {
      who = rng.pick(['D', 'none', 'wrong', 'malformed'] as const);
      refusedAnyway = true;
    }
  } else {
    schema = StatusQuery;
    pairs = rng.chance(0.5) ? [['terminalId', fx.a.terminalId]] : [];
    const breaker = rng.pick(['unknown param', 'terminalId bad', 'terminalId twice', 'as terminal B', 'a terminal that does not exist', 'credentials'] as const);
    ctx.labels.push(breaker);
    if (breaker === 'unknown param') pairs.push([unknownKey(ctx), text(rng, 10)]);
    else if (breaker === 'terminalId bad') pairs = [['terminalId', String(badTerminalId(ctx))]];
    else if (breaker === 'terminalId twice') pairs = [['terminalId', fx.a.terminalId], ['terminalId', fx.a.terminalId]];
    else if (breaker === 'as terminal B') {
      pairs = [['terminalId', fx.a.terminalId]];
      who = 'B';
      refusedAnyway = true;
    } else if (breaker === 'a terminal that does not exist') {
      pairs = [['terminalId', `ghost-${rng.int(1e6)}`]];
      who = 'admin';
      refusedAnyway = true;
    } else {
      who = rng.pick(['D', 'none', 'wrong', 'malformed'] as const);
      refusedAnyway = true;
    }
  }
  if (!refusedAnyway && accepts(schema, queryObject(pairs.map(([k, v]) => [wellFormed(k), wellFormed(v)])))) {
    who = rng.pick(['D', 'none', 'wrong'] as const);
    ctx.labels.push(`still valid: sent as ${who}`);
  }
  const path = { pull: '/api/sync/pull', conflicts: '/api/sync/conflicts', status: '/api/sync/status' }[which];
  ctx.labels.push(`as ${who}`);
  return { n, label: ctx.labels.join(' / '), server: 'main', method: 'GET', path: path + qs(pairs), headers: authHeaders(ctx, fx, who) };
}

/** Endpoints without input (schema, the fleet list): only credentials can be wrong. */
function refusedNoInputRequest(ctx: Ctx, fx: Fixture, n: number): Fuzzed {
  const rng = ctx.rng;
  const [path, refused] = rng.pick([
    ['/api/sync/schema', ['D', 'none', 'wrong', 'malformed']],
    ['/api/terminals', ['A', 'B', 'D', 'none', 'wrong', 'malformed']],
    ['/api/fleet', ['A', 'B', 'D', 'none', 'wrong', 'malformed']],
    ['/api/fleet/stores', ['A', 'B', 'D', 'none', 'wrong', 'malformed']],
    ['/api/conflicts/analytics', ['A', 'B', 'D', 'none', 'wrong', 'malformed']],
  ] as const);
  const who = rng.pick(refused);
  ctx.labels.push(`GET ${path}`, `as ${who}`);
  return { n, label: ctx.labels.join(' / '), server: 'main', method: 'GET', path, headers: authHeaders(ctx, fx, who) };
}

/** Routes that do not exist, methods a route does not have, URLs that do not decode. */
function refusedRouteRequest(ctx: Ctx, fx: Fixture, n: number): Fuzzed {
  const rng = ctx.rng;
  const [method, path] = rng.pick<() => [string, string]>([
    () => [rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']), `/${encodeURIComponent(wellFormed(text(rng, rng.pick([1, 10, 300, 8000]))))}`],
    () => ['GET', '/api/sync/push'],
    () => ['POST', '/api/sync/pull'],
    () => ['DELETE', `/api/terminals/${fx.a.terminalId}`],
    () => ['PUT', '/api/stores'],
    () => ['GET', `/api/${'%zz'.repeat(rng.range(1, 100))}`],
    () => ['GET', `/api-docs/static/${rng.pick(['..%2f..%2fpackage.json', '%zz', 'nope', 'x'.repeat(3000)])}`],
    () => ['PATCH', `/api/terminals/${'t'.repeat(rng.range(101, 5000))}`],
  ])();
  const who = rng.pick(['admin', 'A', 'none'] as const);
  ctx.labels.push(`${method} route`, `as ${who}`);
  const body = method === 'GET' || method === 'DELETE' || method === 'OPTIONS' ? undefined : '{}';
  return {
    n,
    label: ctx.labels.join(' / '),
    server: 'main',
    method,
    path,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...authHeaders(ctx, fx, who) },
    ...(body ? { body } : {}),
  };
}

/** socket.io's HTTP transport (engine.io answers it in its own format): never a 5xx. */
function socketIoRequest(ctx: Ctx, fx: Fixture, n: number): Fuzzed {
  const rng = ctx.rng;
  const path = rng.pick([
    '/socket.io/?EIO=4&transport=bogus',
    '/socket.io/?EIO=9&transport=polling',
    `/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(wellFormed(text(rng, 30)))}`,
    '/socket.io/',
  ]);
  const method = rng.pick(['GET', 'POST']);
  ctx.labels.push(`socket.io ${method}`);
  return {
    n,
    label: ctx.labels.join(' / '),
    server: 'main',
    method,
    path,
    headers: { 'content-type': 'text/plain', ...authHeaders(ctx, fx, 'none') },
    ...(method === 'POST' ? { body: wellFormed(text(rng, rng.pick([0, 10, 1000]))) } : {}),
    foreign: true,
  };
}

/** Malformed HTTP: what the HTTP parser itself refuses, sent as raw bytes. */
function rawRequest(ctx: Ctx, fx: Fixture, n: number): Fuzzed {
  const rng = ctx.rng;
  const head = (extra: string) => `GET /api/sync/status HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
  const auth = `Authorization: Bearer ${fx.a.apiKey}\r\n`;
  const [label, raw] = rng.pick<() => [string, string]>([
    () => ['garbage request line', `${headerText(rng, rng.range(1, 200)).replace(/ /g, '_')}\r\n\r\n`],
    () => ['unknown method', `FROB /api/sync/status HTTP/1.1\r\nHost: x\r\n\r\n`],
    () => ['bad version', `GET /api/sync/status HTTP/9.9\r\nHost: x\r\n\r\n`],
    () => ['header without colon', head('Bad Header\r\n')],
    () => ['header name with a space', head('Bad Name: x\r\n')],
    () => ['NUL in a header', head('X-Nul: a\u0000b\r\n')],
    () => ['control character in a header', head(`X-Ctl: a${String.fromCharCode(rng.range(1, 8))}b\r\n`)],
    () => ['huge header', head(`X-Big: ${'a'.repeat(rng.range(17_000, 300_000))}\r\n`)],
    () => ['many headers', head(Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'v'.repeat(10)}\r\n`).join(''))],
    () => ['huge URL', `GET /${'u'.repeat(rng.range(17_000, 100_000))} HTTP/1.1\r\nHost: x\r\n\r\n`],
    () => ['Content-Length not a number', head('Content-Length: abc\r\n')],
    () => ['two Content-Lengths', head('Content-Length: 1\r\nContent-Length: 2\r\n')],
    () => ['Content-Length and chunked', head('Content-Length: 1\r\nTransfer-Encoding: chunked\r\n')],
    () => ['obsolete line folding', head('X-A: y\r\n folded\r\n')],
    () => ['bare LF', 'GET /api/sync/status HTTP/1.1\nHost: x\n\n'],
    () => [
      'a chunked body that breaks off',
      `POST /api/sync/heartbeat HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ter\r\n${rng.pick(['zz', '-1', 'ffffffffffffffffff'])}\r\n`,
    ],
    () => ['no Host', 'GET /api/sync/status HTTP/1.1\r\n\r\n'],
    () => ['an expectation other than 100-continue', head(`Expect: ${rng.pick(['foo', '200-ok', headerText(rng, 100)])}\r\n`)],
    () => ['CONNECT', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n${rng.chance(0.5) ? 'tunnel bytes' : ''}`],
    () => ['an upgrade outside socket.io', head('Connection: Upgrade\r\nUpgrade: websocket\r\n')],
    () => ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    () => ['garbage pipelined after a request', `GET /api/sync/status HTTP/1.1\r\nHost: x\r\n\r\n${headerText(rng, 30).replace(/ /g, '_')}\r\n\r\n`],
  ])();
  ctx.labels.push('raw HTTP', label);
  return { n, label: ctx.labels.join(' / '), server: 'main', method: 'RAW', path: '', headers: {}, raw };
}

function refusedRequest(rng: Rng, fx: Fixture, n: number): Fuzzed {
  const ctx: Ctx = { rng, fx, deep: new Map(), labels: [] };
  return rng.weighted<() => Fuzzed>([
    [14, () => refusedBodyRequest(ctx, fx, n, ENDPOINTS[0] as BodyEndpoint)],
    [40, () => refusedBodyRequest(ctx, fx, n, rng.pick(ENDPOINTS.slice(1)))],
    [14, () => refusedQueryRequest(ctx, fx, n)],
    [3, () => refusedNoInputRequest(ctx, fx, n)],
    [5, () => refusedRouteRequest(ctx, fx, n)],
    [2, () => socketIoRequest(ctx, fx, n)],
    [6, () => rawRequest(ctx, fx, n)],
  ])();
}

// ------------------------------------------------------------------ phase 2: hostile values where they may be accepted

/** Text for phase 2: mostly of characters every layer accepts, so that most of it reaches the database. */
function edgeText(rng: Rng, length: number): string {
  return text(rng, length, rng.chance(0.85) ? CLEAN_CHARSETS : CHARSETS);
}

/** A value at an edge: lengths around each bound, unicode, NUL, extreme numbers and dates. */
function edgeString(ctx: Ctx): string {
  return edgeText(ctx.rng, ctx.rng.pick([0, 1, 63, 64, 65, 100, 101, 127, 128, 199, 200, 201, 499, 500, 501, 2000, TEXT_MAX_LENGTH - 1, TEXT_MAX_LENGTH]));
}
/** Instants at the edges of what the schema and the databases take (the first ones valid everywhere). */
const EDGE_TIMESTAMPS = [
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999Z',
  '2024-02-29T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '2026-01-01T00:00:00+14:00',
  '2026-02-30T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '2026-01-01T00:00:60Z',
  '2026-01-01T00:00:00-23:59',
  '2026-01-01T00:00:00+99:99',
  '2026-01-01T00:00:00.123456789Z',
];
const edgeTimestamp = (rng: Rng): string => (rng.chance(0.8) ? rng.pick(EDGE_TIMESTAMPS.slice(0, 5)) : rng.pick(EDGE_TIMESTAMPS));
const EDGE_DECIMALS = ['999999999999999999.999999999999', '-999999999999999999.999999999999', '-0.000000000001', '0', '-0', '000000000000000001'];
const EDGE_NUMBERS = [0, -0, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e-7, 1e21, 1e308, -1e308, 5e-324, 1_000_000_000];

function edgeValue(ctx: Ctx, col: WireColumn, fx: Fixture): unknown {
  const rng = ctx.rng;
  const d = col.def;
  if (rng.chance(0.1)) return null;
  switch (d.type) {
    case 'text':
      if (d.oneOf) return rng.pick(d.oneOf);
      // Around the bounds on both sides: over them was a 500 (an index row over the btree limit) before they existed.
      if (d.references) return rng.pick<unknown>([edgeText(rng, rng.pick([1, 199, 200, 201, 3000])), fx.orderOfA, fx.b.storeId, fx.a.storeId, '']);
      return rng.chance(0.05) ? edgeText(rng, TEXT_MAX_LENGTH + 1) : edgeString(ctx);
    case 'integer':
      return rng.pick(EDGE_NUMBERS.filter(Number.isSafeInteger));
    case 'numeric':
      return rng.pick<unknown>([...EDGE_NUMBERS, ...EDGE_DECIMALS]);
    case 'boolean':
      return rng.chance(0.5);
    case 'timestamp':
      return edgeTimestamp(rng);
    case 'json': {
      let v: unknown = rng.pick<unknown>([edgeString(ctx), rng.pick(EDGE_NUMBERS), { [text(rng, 3)]: 'k' }]);
      for (let i = 0, n = rng.range(0, JSON_MAX_DEPTH - 1); i < n; i++) v = rng.chance(0.5) ? [v] : { [text(rng, rng.pick([0, 2, 40]))]: v };
      return v;
    }
  }
}

function edgeChange(ctx: Ctx, fx: Fixture): Record<string, unknown> {
  const rng = ctx.rng;
  const entry = rng.pick(PUSHABLE);
  const change = validChange(ctx, fx, entry);
  const data = change.data as Record<string, unknown>;
  // A few edge values in an otherwise valid row: with many, one would nearly always be refused, and the rest never reach the database.
  // Foreign keys more often than their share: indexed, they are where a long value meets a database limit.
  const refs = entry.wireColumns.filter((c) => c.def.references);
  for (let i = 0, k = rng.range(1, 3); i < k; i++) {
    const col = refs.length > 0 && rng.chance(0.4) ? rng.pick(refs) : rng.pick(entry.wireColumns);
    data[col.name] = edgeValue(ctx, col, fx);
  }
  change.operation = rng.pick(['CREATE', 'CREATE', 'UPDATE', 'DELETE']);
  if (rng.chance(0.3)) change.entityId = rng.pick([text(rng, rng.pick([1, 100, 200])), fx.orderOfA, 'a\u0000b']);
  if (rng.chance(0.2)) change.syncVersion = rng.pick([1, 2, Number.MAX_SAFE_INTEGER]);
  if (rng.chance(0.2)) change.hlc = rng.pick([`${String(Date.now()).padStart(15, '0')}:00000:fz`, '999999999999999:99999:fz', '000000000000000:00000:fz']);
  if (rng.chance(0.2)) change.baseData = Object.fromEntries(entry.wireColumns.filter(() => rng.chance(0.3)).map((c) => [c.name, edgeValue(ctx, c, fx)]));
  if (rng.chance(0.1)) change.changeId = rng.pick(['fz-change-repeated', `h:${'0'.repeat(32)}`, text(rng, 128)]);
  if (rng.chance(0.1)) delete change.changeId;
  return change;
}

function acceptedPhaseRequest(rng: Rng, fx: Fixture, n: number): Fuzzed {
  const ctx: Ctx = { rng, fx, deep: new Map(), labels: [] };
  const who: Who = rng.pick(['A', 'admin'] as const);
  const json = (method: 'POST' | 'PATCH', path: string, body: unknown, by: Who = who): Fuzzed => ({
    n,
    label: ctx.labels.concat(`as ${by}`).join(' / '),
    server: 'main',
    method,
    path,
    headers: { 'content-type': 'application/json', ...authHeaders(ctx, fx, by) },
    body: encode(ctx, body),
  });
  const which = rng.weighted<string>([
    [8, 'push'],
    [2, 'pull'],
    [2, 'heartbeat'],
    [1, 'resolve'],
    [1, 'all'],
    [1, 'stores'],
    [1, 'terminals'],
    [1, 'PATCH'],
    [2, 'read'],
  ]);
  ctx.labels.push(`edge ${which}`);
  switch (which) {
    case 'push':
      return json('POST', '/api/sync/push', { terminalId: fx.a.terminalId, changes: Array.from({ length: rng.range(1, 3) }, () => edgeChange(ctx, fx)) });
    case 'pull': {
      const pairs: [string, string][] = [
        ['terminalId', fx.a.terminalId],
        ['entityType', rng.pick(PULLABLE).entityType],
        ['limit', String(rng.pick([1, 5000]))],
      ];
      const extra = rng.pick(['lastSync', 'cursor', 'start', 'none'] as const);
      if (extra === 'lastSync') pairs.push(['lastSync', edgeTimestamp(rng)]);
      if (extra === 'cursor') {
        const cursor = rng.pick<unknown[]>([['0', 0], ['1', Number.MAX_SAFE_INTEGER], ['0', 0, edgeTimestamp(rng)], ['0', 0, '2026-99-99T99:99:99Z'], ['s', null, null], ['s', '0', text(rng, 200)], ['18446744073709551615', 0]]);
        pairs.push(['cursor', Buffer.from(JSON.stringify(cursor)).toString('base64url')]);
      }
      if (extra === 'start') pairs.push(['start', 'snapshot']);
      ctx.labels.push(extra, `as ${who}`);
      return { n, label: ctx.labels.join(' / '), server: 'main', method: 'GET', path: `/api/sync/pull${qs(pairs)}`, headers: authHeaders(ctx, fx, who) };
    }
    case 'heartbeat':
      return json('POST', '/api/sync/heartbeat', {
        terminalId: fx.a.terminalId,
        status: rng.pick(['ONLINE', 'OFFLINE', 'SYNCING', 'ERROR']),
        ...(rng.chance(0.5) ? { appVersion: text(rng, rng.pick([0, 1, 64])) } : {}),
        ...(rng.chance(0.5) ? { lastSyncAt: edgeTimestamp(rng) } : {}),
        // What the fleet view reads back (GET /api/fleet in `read`): edge values it must show without failing.
        ...(rng.chance(0.5) ? { reportedAt: edgeTimestamp(rng), oldestPendingAt: rng.chance(0.2) ? null : edgeTimestamp(rng) } : {}),
        ...(rng.chance(0.5) ? { unsyncedSales: { count: rng.pick([0, 1, 1_000_000_000]), total: rng.pick([0, 0.01, 1e13, 123456.789]) } } : {}),
        ...(rng.chance(0.5) ? { schemaVersion: text(rng, rng.pick([1, 64])) } : {}),
        ...(rng.chance(0.5)
          ? {
              cursors: Object.fromEntries(
                Array.from({ length: rng.range(0, 100) }, () => [
                  rng.chance(0.5) ? rng.pick(CATALOG).entityType : text(rng, rng.pick([1, 64])),
                  rng.pick([text(rng, rng.pick([1, 400])), Buffer.from(JSON.stringify(rng.pick<unknown[]>([['0', 0], ['18446744073709551615', 9007199254740991], ['s', '5', null]]))).toString('base64url')]),
                ]),
              ),
            }
          : {}),
        ...(rng.chance(0.5)
          ? {
              recentRuns: Array.from({ length: rng.range(0, 10) }, () => ({
                kind: text(rng, rng.pick([1, 32])),
                trigger: text(rng, rng.pick([0, 100])),
                startedAt: edgeTimestamp(rng),
                finishedAt: rng.chance(0.5) ? null : edgeTimestamp(rng),
                pushed: rng.pick([0, 1_000_000_000]),
                pulled: 0,
                conflicts: 0,
                failed: 0,
                errors: Array.from({ length: rng.range(0, 5) }, () => text(rng, rng.pick([0, 500]))),
              })),
            }
          : {}),
        ...(rng.chance(0.5)
          ? {
              outbox: Object.fromEntries(
                Array.from({ length: rng.range(0, 100) }, () => [
                  rng.chance(0.3) ? rng.pick(CATALOG).entityType : text(rng, rng.pick([1, 64, 65, 3000])),
                  { pending: rng.pick([0, 1_000_000_000, 1e308]), failed: 0, synced: 0, conflicts: rng.pick([0, 1_000_000_000]) },
                ]),
              ),
            }
          : {}),
      });
    case 'resolve': {
      const po = CATALOG.find((e) => e.entityType === 'PurchaseOrder') as CatalogEntry;
      return json('POST', '/api/sync/resolve', {
        conflictId: rng.pick([fx.openConflict, fx.resolvedConflict, text(rng, rng.pick([1, 100]))]),
        resolution: rng.pick(['TERMINAL_WINS', 'CENTRAL_WINS', 'MANUAL_MERGE']),
        resolvedData: Object.fromEntries(po.wireColumns.filter(() => rng.chance(0.4)).map((c) => [c.name, edgeValue(ctx, c, fx)])),
        ...(rng.chance(0.5) ? { resolvedBy: text(rng, rng.pick([0, 200])) } : {}),
      });
    }
    case 'all':
      return json('POST', '/api/sync/all', { terminalId: fx.a.terminalId, type: rng.pick(['FULL', 'INCREMENTAL']), reason: text(rng, rng.pick([1, 64])) });
    case 'stores':
      return json(
        'POST',
        '/api/stores',
        {
          id: text(rng, rng.pick([1, 100, KEY_MAX_LENGTH])),
          name: text(rng, rng.pick([1, 200])),
          code: text(rng, rng.pick([0, 64])),
          address: text(rng, rng.pick([0, 500])),
          timezone: text(rng, 64),
          currency: text(rng, 3),
        },
        'admin',
      );
    case 'terminals':
      return json('POST', '/api/terminals', { storeId: rng.pick([fx.a.storeId, fx.b.storeId, text(rng, KEY_MAX_LENGTH)]), name: text(rng, rng.pick([1, 200])) }, 'admin');
    case 'read': {
      // What earlier requests stored is read back: a stored value must not break a later answer.
      const [path, by] = rng.pick<[string, Who]>([
        [`/api/sync/status?terminalId=${fx.b.terminalId}`, 'admin'],
        [`/api/sync/status?terminalId=${fx.a.terminalId}`, 'A'],
        ['/api/sync/conflicts', 'admin'],
        ['/api/sync/conflicts?status=resolved', 'A'],
        ['/api/terminals', 'admin'],
        ['/api/sync/schema', 'A'],
        ['/api/fleet?limit=1000', 'admin'],
        ['/api/fleet/stores', 'admin'],
        [`/api/fleet/terminals/${fx.a.terminalId}`, 'admin'],
        ['/api/conflicts/analytics?weeks=52', 'admin'],
      ]);
      ctx.labels.push(path, `as ${by}`);
      return { n, label: ctx.labels.join(' / '), server: 'main', method: 'GET', path, headers: authHeaders(ctx, fx, by) };
    }
    default:
      // Only renames: a disabled terminal B would turn later requests into plain 403s.
      return json('PATCH', `/api/terminals/${fx.b.terminalId}`, { name: text(rng, rng.pick([1, 200])), disabled: false }, 'admin');
  }
}

// ------------------------------------------------------------------ sending and judging

interface Outcome {
  readonly status: number;
  /** The error's code, or the status for an answer that is not an error. */
  readonly code: string;
  /** Bytes of the (last) answer's body. */
  readonly bytes: number;
  readonly problems: string[];
}

function codeOf(status: number, text: string): string {
  if (status < 400) return String(status);
  try {
    const code: unknown = (JSON.parse(text) as { code?: unknown }).code;
    return typeof code === 'string' ? code : String(status);
  } catch {
    return String(status);
  }
}

/** "code: count" pairs, most frequent first. */
function tally(counts: Map<string, number>): string {
  return [...counts]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

const agents = { main: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }), small: new Agent({ keepAlive: true, maxSockets: CONCURRENCY }) };

/** Sends one request and says what is wrong with its answer (for a refusal: any 2xx or 5xx, an undocumented shape, a reset). */
async function send(fx: Fixture, req: Fuzzed, mustRefuse: boolean): Promise<Outcome> {
  const url = req.server === 'main' ? fx.main.url : fx.small.url;
  if (req.raw !== undefined) {
    const x = await rawExchange(url, req.raw);
    const problems: string[] = [];
    if (x.ending !== 'end') problems.push(`the connection did not end cleanly: ${x.ending} ${x.error ?? ''}`);
    if (x.leftover > 0) problems.push(`${x.leftover} bytes of an incomplete answer`);
    if (x.responses.length === 0) problems.push('no answer');
    for (const r of x.responses) problems.push(...errorShapeProblems(r.status, r.headers['content-type'], r.body));
    const last = x.responses.at(-1);
    if (last && last.headers.connection !== 'close') problems.push('the last answer before the close lacks Connection: close');
    return { status: last?.status ?? 0, code: last ? codeOf(last.status, last.body) : 'none', bytes: Buffer.byteLength(last?.body ?? ''), problems };
  }
  let answer: HttpAnswer;
  try {
    answer = await httpExchange(url, agents[req.server], { method: req.method, path: req.path, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}) });
  } catch (err) {
    return { status: 0, code: 'none', bytes: 0, problems: [`request failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`] };
  }
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`a ${answer.status}: ${answer.text.slice(0, 300)}`);
  else if (req.foreign) {
    // engine.io's own answers: only "no 5xx" and "nothing written" apply.
  } else if (answer.status >= 400 || mustRefuse) {
    problems.push(...errorShapeProblems(answer.status, answer.headers['content-type'], answer.text));
  }
  return {
    status: answer.status,
    code: req.foreign ? `socket.io ${answer.status}` : codeOf(answer.status, answer.text),
    bytes: Buffer.byteLength(answer.text),
    problems,
  };
}

interface Failure {
  readonly n: number;
  readonly label: string;
  readonly problem: string;
}

function describeFailure(f: Failure): string {
  return `#${f.n} [${f.label}]: ${f.problem}`;
}

let tdb: TestDatabase;
let fx: Fixture;

beforeAll(async () => {
  console.log(
    `fuzz: seed ${SEED}, ${REQUESTS} requests (${REFUSED_PHASE} refused by design, ${ACCEPTED_PHASE} with edge values) on ${onPostgres ? 'PostgreSQL' : 'PGlite'}; ` +
      `replay with TILLSYNC_FUZZ_SEED=${SEED} TILLSYNC_FUZZ_REQUESTS=${REQUESTS}`,
  );
  tdb = await testDatabase();
  const main = await startCentral({ db: tdb.db });
  const small = await startCentral({ db: tdb.db, config: { bodyLimitBytes: SMALL_BODY_LIMIT } });
  const a = await main.provision('fz-store-1', 'fz-till-a');
  const b = await main.provision('fz-store-2', 'fz-till-b');
  const d = await main.provision('fz-store-1', 'fz-till-d');
  const disabled = await main.admin.patch(`/api/terminals/${d.terminalId}`, { disabled: true });
  expect(disabled.status, disabled.text).toBe(200);
  // An order of A's, and two parked PurchaseOrder conflicts (MANUAL_MERGE): one stays open, one is resolved.
  const orderOfA = 'fz-order-1';
  const order = await a.api.post('/api/sync/push', {
    terminalId: a.terminalId,
    changes: [{ entityType: 'SaleOrder', entityId: orderOfA, operation: 'CREATE', data: { store_id: a.storeId, order_number: '1', status: 'completed', total: 10 } }],
  });
  expect(order.body.summary?.applied, order.text).toBe(1);
  const park = async (poId: string): Promise<string> => {
    const created = await a.api.post('/api/sync/push', {
      terminalId: a.terminalId,
      changes: [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'CREATE', data: { store_id: a.storeId, notes: 'till', status: 'draft' } }],
    });
    expect(created.body.summary?.applied, created.text).toBe(1);
    await main.db.query(`UPDATE purchase_orders SET notes = 'hq' WHERE id = $1`, [poId]);
    const parked = await a.api.post('/api/sync/push', {
      terminalId: a.terminalId,
      changes: [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'UPDATE', data: { notes: 'till again' }, syncVersion: 1 }],
    });
    expect(parked.body.results?.[0]?.resolution, parked.text).toBe('PARKED');
    return parked.body.results[0].conflictId as string;
  };
  const openConflict = await park('fz-po-open');
  const resolvedConflict = await park('fz-po-resolved');
  const resolved = await main.admin.post('/api/sync/resolve', { conflictId: resolvedConflict, resolution: 'CENTRAL_WINS' });
  expect(resolved.status, resolved.text).toBe(200);
  fx = { main, small, a, b, d, openConflict, resolvedConflict, orderOfA };
}, 120_000);

afterAll(async () => {
  agents.main.destroy();
  agents.small.destroy();
  await fx?.small.close();
  await fx?.main.close();
  await tdb?.close();
});

const timeout = 120_000 + REQUESTS * 30;

describe(`fuzz (seed ${SEED})`, () => {
  it(
    `${REFUSED_PHASE} requests made to be refused: each a documented 4xx, no reset, no row changed`,
    async () => {
      const rng = new Rng(SEED);
      const failures: Failure[] = [];
      const codes = new Map<string, number>();
      let largest = 0;
      const baseline = await digestOf(fx);
      const started = Date.now();
      for (let first = 0; first < REFUSED_PHASE; first += BATCH) {
        const batch: Fuzzed[] = [];
        for (let n = first; n < Math.min(first + BATCH, REFUSED_PHASE); n++) batch.push(refusedRequest(rng, fx, n));
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (let i = next++; i < batch.length; i = next++) {
              const req = batch[i] as Fuzzed;
              const out = await send(fx, req, true);
              codes.set(out.code, (codes.get(out.code) ?? 0) + 1);
              largest = Math.max(largest, out.bytes);
              if (!req.foreign && (out.status < 400 || out.status > 499)) out.problems.push(`status ${out.status}: a request made to be refused was not`);
              for (const problem of out.problems) failures.push({ n: req.n, label: req.label, problem });
            }
          }),
        );
        const now = await digestOf(fx);
        for (const [table, digest] of Object.entries(now)) {
          if (baseline[table] !== digest) {
            failures.push({ n: first, label: `batch ${first}-${first + batch.length - 1}`, problem: `table ${table} changed` });
          }
        }
        if (failures.length > 50) break;
      }
      console.log(
        `fuzz phase 1: ${REFUSED_PHASE} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; largest answer ${largest} bytes; answers: ${tally(codes)}`,
      );
      expect(failures.map(describeFailure).slice(0, 20), `seed ${SEED}: ${failures.length} problems`).toEqual([]);
    },
    timeout,
  );

  it(
    `${ACCEPTED_PHASE} requests with edge values where the schemas accept them: never a 5xx, a refusal changes nothing`,
    async () => {
      const rng = new Rng(SEED ^ 0x5eed_2222);
      const failures: Failure[] = [];
      const codes = new Map<string, number>();
      let before = await digestOf(fx);
      const started = Date.now();
      for (let n = 0; n < ACCEPTED_PHASE && failures.length <= 50; n++) {
        const req = acceptedPhaseRequest(rng, fx, n);
        const out = await send(fx, req, false);
        codes.set(out.code, (codes.get(out.code) ?? 0) + 1);
        for (const problem of out.problems) failures.push({ n, label: req.label, problem });
        const after = await digestOf(fx);
        if (out.status >= 400) {
          for (const [table, digest] of Object.entries(after)) {
            if (before[table] !== digest) failures.push({ n, label: req.label, problem: `refused with ${out.status}, yet table ${table} changed` });
          }
        }
        before = after;
      }
      console.log(
        `fuzz phase 2: ${ACCEPTED_PHASE} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; answers: ${tally(codes)}`,
      );
      expect(failures.map(describeFailure).slice(0, 20), `seed ${SEED}: ${failures.length} problems`).toEqual([]);
      // The state is still sound: a valid request of A's is accepted.
      const ok = await fx.a.api.post('/api/sync/heartbeat', { terminalId: fx.a.terminalId, status: 'ONLINE' });
      expect(ok.status, ok.text).toBe(200);
    },
    timeout,
  );
});
