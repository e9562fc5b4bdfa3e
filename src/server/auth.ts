/**
 * Who is calling: the admin (fleet-wide) or one terminal (acts only as itself,
 * sees only its store's rows plus global ones). Terminal keys are random 256-bit
 * secrets; central stores only their SHA-256.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from './db/database.js';
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

export class Authenticator {
  constructor(
    private readonly db: Database,
    private readonly adminHash: string,
  ) {}

  /** Resolves a bearer token to a principal; throws 401/403 with a clear reason. */
  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw unauthorized('missing credentials: send "Authorization: Bearer <terminal key or admin token>"');
    const hash = hashSecret(token);
    if (sameHash(hash, this.adminHash)) return { kind: 'admin' };
    const r = await this.db.query<{ id: string; store_id: string; disabled_at: string | null }>(
      'SELECT id, store_id, disabled_at FROM sync_terminals WHERE key_hash = $1',
      [hash],
    );
    const row = r.rows[0];
    if (!row) throw unauthorized('unknown terminal key or admin token');
    if (row.disabled_at) throw forbidden('TERMINAL_DISABLED', `terminal ${row.id} is disabled`);
    return { kind: 'terminal', terminalId: row.id, storeId: row.store_id };
  }
}

/** Throws unless the caller is the admin. */
export function requireAdmin(p: Principal): void {
  if (p.kind !== 'admin') throw forbidden('ADMIN_ONLY', 'this call needs the admin token');
}
