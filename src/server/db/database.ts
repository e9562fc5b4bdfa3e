/**
 * One small interface over the two databases central runs on: a real PostgreSQL
 * server (pg pool) and embedded PGlite. Everything above it writes plain SQL.
 */
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import pg from 'pg';

export interface QueryOptions {
  /**
   * A statement run again and again with the same text (the push's write, the key
   * lookup): on a PostgreSQL server it is kept prepared on each connection, so it is
   * parsed and planned once there instead of at every run (see preparedNames). Only for
   * statements whose generic plan is as good as a custom one: not the push's read, whose
   * plan depends on how many ids it is given. PGlite ignores it.
   */
  readonly reuse?: boolean;
}

export interface Queryable {
  query<T extends object = Record<string, unknown>>(text: string, params?: readonly unknown[], opts?: QueryOptions): Promise<{ rows: T[] }>;
}

/** Most statement texts kept prepared, per Database (and so per connection of its pool). */
export const MAX_PREPARED = 64;
/** Texts seen once and remembered, waiting for a second run to be named. */
const MAX_SEEN = 1024;

/**
 * The name a reused statement is prepared under: one per distinct text, the same on
 * every connection (node-postgres prepares it on a connection at its first run there).
 * A text is named at its second run, so one-off shapes (a backlog's replay after an
 * outage) do not take the slots of the common ones; past `max` names, texts run unnamed
 * (parsed every time), so a server whose statements vary without end keeps a bounded
 * set prepared.
 */
export function preparedNames(max = MAX_PREPARED): (text: string) => string | undefined {
  const names = new Map<string, string>();
  const seen = new Set<string>();
  return (text) => {
    const known = names.get(text);
    if (known !== undefined || names.size >= max) return known;
    if (!seen.has(text)) {
      if (seen.size < MAX_SEEN) seen.add(text);
      return undefined;
    }
    seen.delete(text);
    const name = `tillsync_${names.size + 1}`;
    names.set(text, name);
    return name;
  };
}

/**
 * Errors after which a connection's prepared statements are not what node-postgres
 * believes them to be (it keeps a name as parsed): the server lost them (DISCARD,
 * DEALLOCATE) or a table's column types changed under one. Such a connection is closed,
 * not put back in the pool.
 */
const STALE_PREPARED = new Set(['26000', '0A000']);
const stalePrepared = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && STALE_PREPARED.has(String((err as { code?: unknown }).code));

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * LISTEN on a channel; returns the function that stops listening. `onGap` is called
   * when notifications may have been missed: the listening connection was lost (and
   * again once it is back and listening).
   */
  listen(channel: string, handler: (payload: string) => void, onGap?: () => void): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Takes the session-level advisory lock `key` if no one holds it (on PostgreSQL: on a
   * connection of its own, kept until released, so every instance sees it; a crashed
   * holder's connection ends and the lock with it). Returns its release, or undefined
   * when it is taken.
   */
  tryLock(key: number): Promise<(() => Promise<void>) | undefined>;
  close(): Promise<void>;
}

/** Locks held in this process per embedded database (its one session would take an advisory lock twice). */
const heldInProcess = new WeakMap<object, Set<number>>();

// Row values cross the wire as JSON: bigints as numbers, numerics as numbers,
// timestamps as ISO strings, on both drivers alike.
const OID = { int8: 20, numeric: 1700, timestamptz: 1184, timestamp: 1114 } as const;
const UTC_TIMESTAMP = /^([1-9]\d{3}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,3})\d*)?(?:\+00(?::00)?|Z)$/;
/** PostgreSQL's text timestamp ("2026-01-02 03:04:05.6+00") as an ISO string; infinities stay as they are. */
export function toIso(v: string): string {
  // The common case, a UTC timestamp of year 1000-9999, is rewritten without a Date
  // (a page of a first sync has three per row): seconds' fraction cut to milliseconds.
  const utc = UTC_TIMESTAMP.exec(v);
  if (utc) return `${utc[1]}T${utc[2]}.${(utc[3] ?? '').padEnd(3, '0')}Z`;
  const normal = v.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00');
  const d = new Date(normal);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}
const PARSERS: Record<number, (v: string) => unknown> = {
  [OID.int8]: (v) => Number(v),
  [OID.numeric]: (v) => Number(v),
  [OID.timestamptz]: toIso,
  [OID.timestamp]: (v) => toIso(`${v}+00`),
};

export interface PostgresOptions {
  connectionString: string;
  max?: number;
  onError?: (err: Error) => void;
}

/** A pool on a PostgreSQL server; LISTEN holds one dedicated connection. */
export function openPostgres(opts: PostgresOptions): Database {
  const typeParser = (oid: number, format?: string): ((v: string) => unknown) =>
    PARSERS[oid] ?? (pg.types.getTypeParser(oid, format as 'text') as (v: string) => unknown);
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.max ?? 10,
    types: { getTypeParser: typeParser } as pg.CustomTypesConfig,
  });
  pool.on('error', (err) => opts.onError?.(err));
  const preparedName = preparedNames();
  /** A query as node-postgres takes it: named (prepared once per connection) when reused. */
  const config = (text: string, params: readonly unknown[] | undefined, o: QueryOptions | undefined): pg.QueryConfig => {
    const name = o?.reuse ? preparedName(text) : undefined;
    return name === undefined ? { text, values: params as unknown[] } : { name, text, values: params as unknown[] };
  };
  const handlers = new Map<string, Set<(payload: string) => void>>();
  const gapHandlers = new Set<() => void>();
  let listener: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  let retryMs = 250;
  let closed = false;
  const gap = () => {
    for (const g of gapHandlers) g();
  };

  // One dedicated connection LISTENs on every channel. When it is lost it is opened
  // again (with backoff) and listens again; subscribers hear of the gap both times.
  async function connectListener(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: opts.connectionString });
    let up = false;
    const lost = (err?: Error) => {
      if (err) opts.onError?.(err);
      if (!up || listener !== client) return;
      listener = undefined;
      client.end().catch(() => undefined);
      gap();
      scheduleReconnect();
    };
    client.on('error', (err) => lost(err));
    client.on('end', () => lost());
    client.on('notification', (msg) => {
      for (const h of handlers.get(msg.channel) ?? []) h(msg.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await client.end().catch(() => undefined);
      throw new Error('database closed');
    }
    up = true;
    listener = client;
    return client;
  }

  function listenerClient(): Promise<pg.Client> {
    if (listener) return Promise.resolve(listener);
    connecting ??= connectListener().finally(() => {
      connecting = undefined;
    });
    return connecting;
  }

  function scheduleReconnect(): void {
    if (closed || reconnect) return;
    reconnect = setTimeout(() => {
      reconnect = undefined;
      listenerClient()
        .then(() => {
          retryMs = 250;
          gap();
        })
        .catch((err: unknown) => {
          if (closed) return;
          opts.onError?.(err instanceof Error ? err : new Error(String(err)));
          retryMs = Math.min(retryMs * 2, 5000);
          scheduleReconnect();
        });
    }, retryMs);
    reconnect.unref();
  }

  const db: Database = {
    kind: 'postgres',
    async query<T extends object>(text: string, params?: readonly unknown[], o?: QueryOptions) {
      const r = await pool.query(config(text, params, o));
      return { rows: r.rows as T[] };
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R extends object>(text: string, params?: readonly unknown[], o?: QueryOptions) {
            try {
              const r = await client.query(config(text, params, o));
              return { rows: r.rows as R[] };
            } catch (err) {
              if (stalePrepared(err)) broken = err as Error;
              throw err;
            }
          },
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async listen(channel, handler, onGap) {
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      set.add(handler);
      if (onGap) gapHandlers.add(onGap);
      try {
        const client = await listenerClient();
        // LISTEN is idempotent: a client opened just now already listens on the channel.
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        set.delete(handler);
        if (onGap) gapHandlers.delete(onGap);
        throw err;
      }
      const subscribed = set;
      return async () => {
        subscribed.delete(handler);
        if (onGap) gapHandlers.delete(onGap);
      };
    },
    async notify(channel, payload) {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async tryLock(key) {
      const client = await pool.connect();
      try {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
        if (!r.rows[0]?.ok) {
          client.release();
          return undefined;
        }
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        // A connection that cannot say unlock is closed instead: the lock ends with it.
        await client.query('SELECT pg_advisory_unlock($1)', [key]).then(
          () => client.release(),
          (err: Error) => client.release(err),
        );
      };
    },
    async close() {
      closed = true;
      clearTimeout(reconnect);
      handlers.clear();
      gapHandlers.clear();
      const l = listener;
      listener = undefined;
      await l?.end().catch(() => undefined);
      await pool.end();
    },
  };
  return db;
}

/**
 * Embedded PGlite: one in-process connection, so statements serialize. `dataDir`
 * undefined keeps the database in memory (tests). `shared` lets several server
 * instances in one process use the same database, as instances share PostgreSQL.
 * `from` starts it as a copy of another PGlite's dump (`dumpDataDir()`: the tests'
 * databases start from one that holds central's schema).
 */
export async function openPglite(dataDir?: string, from?: Blob): Promise<Database> {
  const parsers: Record<number, (v: string) => unknown> = { ...PARSERS };
  const pglite = await PGlite.create({ ...(dataDir ? { dataDir } : {}), ...(from ? { loadDataDir: from } : {}), parsers });
  return wrapPglite(pglite, true);
}

export function wrapPglite(pglite: PGlite, owned: boolean): Database {
  return {
    kind: 'pglite',
    async query<T extends object>(text: string, params?: readonly unknown[]) {
      const r = await pglite.query<T>(text, params as unknown[]);
      return { rows: r.rows };
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return pglite.transaction(async (t) =>
        fn({
          async query<R extends object>(text: string, params?: readonly unknown[]) {
            const r = await t.query<R>(text, params as unknown[]);
            return { rows: r.rows };
          },
        }),
      );
    },
    async listen(channel, handler) {
      const unsub = await pglite.listen(channel, handler);
      return async () => unsub();
    },
    async notify(channel, payload) {
      await pglite.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    async tryLock(key) {
      // One process, one connection: instances sharing it are told apart here.
      const held = heldInProcess.get(pglite) ?? new Set<number>();
      heldInProcess.set(pglite, held);
      if (held.has(key)) return undefined;
      held.add(key);
      return async () => {
        held.delete(key);
      };
    },
    async close() {
      if (owned && !pglite.closed) await pglite.close();
    },
  };
}

/** A Database that several servers share; closing it is the owner's job. */
export function sharedView(db: Database): Database {
  return { ...db, close: async () => undefined };
}

export { pgliteTypes };
