/**
 * Who is calling: the admin (fleet-wide) or one terminal (acts only as itself,
 * sees only its store's rows plus global ones). Terminal keys are random 256-bit
 * secrets; central stores only their SHA-256.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from './db/database.js';
import { AUTH_NOTIFY_CHANNEL } from './db/migrate.js';
import { forbidden, unauthorized } from './errors.js';

export type Principal =
  | { readonly kind: 'admin' }
  | { readonly kind: 'terminal'; readonly terminalId: string; readonly storeId: string };

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newApiKey(): string {
  return `tsk_${randomBytes(32).toString('base64url')}`;
}

export function newAdminToken(): string {
  return `tsa_${randomBytes(32).toString('base64url')}`;
}

function sameHash(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

export interface AdminTokenSetup {
  /** Hash the admin token is checked against. */
  readonly hash: string;
  /** The token, when this start generated it (to print once). */
  readonly generated?: string;
}

/**
 * The admin token: from configuration if set; otherwise generated on the first
 * start, stored hashed, and handed back once so it can be printed.
 */
export async function setupAdminToken(db: Database, configured: string | undefined): Promise<AdminTokenSetup> {
  if (configured) return { hash: hashSecret(configured) };
  const existing = await db.query<{ token_hash: string }>('SELECT token_hash FROM sync_admin WHERE id = 1');
  if (existing.rows[0]) return { hash: existing.rows[0].token_hash };
  const token = newAdminToken();
  const hash = hashSecret(token);
  const inserted = await db.query<{ token_hash: string }>(
    'INSERT INTO sync_admin (id, token_hash) VALUES (1, $1) ON CONFLICT (id) DO NOTHING RETURNING token_hash',
    [hash],
  );
  if (inserted.rows[0]) return { hash, generated: token };
  // Another instance generated it first.
  const winner = await db.query<{ token_hash: string }>('SELECT token_hash FROM sync_admin WHERE id = 1');
  return { hash: winner.rows[0]?.token_hash ?? hash };
}

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export interface AuthCacheOptions {
  /** How long a looked-up key is trusted without asking PostgreSQL again; 0 never caches. */
  readonly ttlMs: number;
  /** Most keys kept (the oldest go first). */
  readonly maxEntries?: number;
}

type TerminalPrincipal = Extract<Principal, { kind: 'terminal' }>;

/** What a terminal key stands for, as PostgreSQL last said: a terminal, or a disabled one. */
interface CachedKey {
  readonly terminalId: string;
  readonly principal: TerminalPrincipal | undefined;
  readonly expiresAt: number;
}

interface AuthLog {
  warn(obj: object, msg: string): void;
}

/**
 * Resolves bearer tokens. A terminal key's identity is kept in memory for a short
 * time, so a push costs no authentication query. Whatever changes a terminal's access
 * (disabled, deleted, re-keyed, moved to another store) is announced on AUTH_NOTIFY_CHANNEL
 * by a trigger on sync_terminals, in the transaction that changes it: every instance
 * drops the terminal's entries when the notification arrives, and the instance that
 * made the change also drops them at once (`forget`). The TTL bounds how long a missed
 * notification (a lost listening connection, a pooler without LISTEN) can matter.
 */
export class Authenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly maxEntries: number;
  /** Bumped by every invalidation: a lookup that raced one is not cached. */
  private generation = 0;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly adminHash: string,
    private readonly cacheOptions: AuthCacheOptions = { ttlMs: 0 },
  ) {
    this.maxEntries = cacheOptions.maxEntries ?? 50_000;
  }

  /** Subscribes to access changes; without notifications the cache relies on its TTL alone. */
  async start(log?: AuthLog): Promise<void> {
    if (this.cacheOptions.ttlMs === 0 || this.unlisten) return;
    try {
      this.unlisten = await this.db.listen(
        AUTH_NOTIFY_CHANNEL,
        (terminalId) => this.forget(terminalId || undefined),
        () => this.forget(),
      );
    } catch (err) {
      log?.warn({ err, ttlMs: this.cacheOptions.ttlMs }, 'no notifications of terminal access changes: cached keys expire by TTL only');
    }
  }

  async close(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    this.cache.clear();
    await unlisten?.();
  }

  /** Drops what is cached for one terminal, or for all when no id is given. */
  forget(terminalId?: string): void {
    this.generation++;
    if (terminalId === undefined) {
      this.cache.clear();
      return;
    }
    for (const [hash, entry] of this.cache) if (entry.terminalId === terminalId) this.cache.delete(hash);
  }

  /** Resolves a bearer token to a principal; throws 401/403 with a clear reason. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw unauthorized('missing credentials: send "Authorization: Bearer <terminal key or admin token>"');
    const hash = hashSecret(token);
    if (sameHash(hash, this.adminHash)) return { kind: 'admin' };
    const cached = this.cache.get(hash);
    if (cached) {
      if (cached.expiresAt > Date.now()) return admitted(cached);
      this.cache.delete(hash);
    }
    const generation = this.generation;
    const r = await this.db.query<{ id: string; store_id: string; disabled_at: string | null }>(
      'SELECT id, store_id, disabled_at FROM sync_terminals WHERE key_hash = $1',
      [hash],
      { reuse: true },
    );
    const row = r.rows[0];
    if (!row) throw unauthorized('unknown terminal key or admin token'); // never cached: keys are made at provisioning
    const entry: CachedKey = {
      terminalId: row.id,
      principal: row.disabled_at ? undefined : { kind: 'terminal', terminalId: row.id, storeId: row.store_id },
      expiresAt: Date.now() + this.cacheOptions.ttlMs,
    };
    // A change announced while the row was read may be newer than the row: use it, keep nothing.
    if (this.cacheOptions.ttlMs > 0 && generation === this.generation) {
      if (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(hash, entry);
    }
    return admitted(entry);
  }
}

function admitted(entry: CachedKey): TerminalPrincipal {
  if (!entry.principal) throw forbidden('TERMINAL_DISABLED', `terminal ${entry.terminalId} is disabled`);
  return entry.principal;
}

/** Throws unless the caller is the admin. */
export function requireAdmin(p: Principal): void {
  if (p.kind !== 'admin') throw forbidden('ADMIN_ONLY', 'this call needs the admin token');
}
