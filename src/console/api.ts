/**
 * Central's admin API as the console uses it: every answer parsed with the shared zod
 * schemas (the boundary), every refusal turned into an ApiError carrying central's
 * ErrorResponse (shown, never swallowed). The admin token goes in the Authorization
 * header only.
 */
import type { z } from 'zod';
import {
  ConflictAnalyticsResponse,
  ConflictListResponse,
  ErrorResponse,
  FleetResponse,
  FleetTerminalDetail,
  ResolveResponse,
  StoreRollupResponse,
  SyncAllResponse,
  type FleetStatus,
} from '../shared/protocol.js';
import { AUDIT_TRIGGER_REASON, LastAuditResponse } from '../shared/audit-protocol.js';
import { TerminalUpdateResponse } from '../shared/update-protocol.js';
import type { Resolution } from '../renderer/views/MergeEditor.js';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FleetFilter {
  readonly storeId?: string;
  readonly status?: FleetStatus;
  readonly attention?: boolean;
  readonly limit: number;
  readonly offset: number;
}

/** Why the console sends a sync trigger (central records it with the trigger). */
export const SYNC_REASON = 'HQ_CONSOLE';

/** `?a=1&b=2` of the defined values, or ''. */
export function query(params: Readonly<Record<string, string | number | boolean | undefined>>): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `?${s}` : '';
}

export class ConsoleApi {
  constructor(
    private readonly token: string,
    private readonly fetcher: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  private async call<S extends z.ZodType>(schema: S, method: 'GET' | 'POST', path: string, body?: unknown): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await this.fetcher(path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'UNREACHABLE', `central did not answer (${err instanceof Error ? err.message : String(err)})`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const e = ErrorResponse.safeParse(json);
      if (e.success) throw new ApiError(res.status, e.data.code, e.data.message);
      throw new ApiError(res.status, 'HTTP_ERROR', `central answered ${res.status} ${res.statusText}`.trim());
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ApiError(res.status, 'BAD_ANSWER', `central's answer to ${method} ${path.split('?')[0]} is not what this console expects: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  fleet(f: FleetFilter) {
    return this.call(FleetResponse, 'GET', `/api/fleet${query({ storeId: f.storeId, status: f.status, attention: f.attention, limit: f.limit, offset: f.offset })}`);
  }

  stores() {
    return this.call(StoreRollupResponse, 'GET', '/api/fleet/stores');
  }

  terminal(terminalId: string) {
    return this.call(FleetTerminalDetail, 'GET', `/api/fleet/terminals/${encodeURIComponent(terminalId)}`);
  }

  openConflicts(limit = 200) {
    return this.call(ConflictListResponse, 'GET', `/api/sync/conflicts${query({ status: 'open', limit })}`);
  }

  resolve(conflictId: string, resolution: Resolution, resolvedData: Record<string, unknown> | undefined) {
    return this.call(ResolveResponse, 'POST', '/api/sync/resolve', { conflictId, resolution, resolvedBy: 'HQ console', ...(resolvedData ? { resolvedData } : {}) });
  }

  /** "Sync now" for one till or every active till of a store. */
  syncNow(target: { terminalId: string } | { storeId: string }) {
    return this.call(SyncAllResponse, 'POST', '/api/sync/all', { ...target, type: 'FULL', reason: SYNC_REASON });
  }

  /** The till's latest convergence audit, as it reported it. */
  lastAudit(terminalId: string) {
    return this.call(LastAuditResponse, 'GET', `/api/fleet/terminals/${encodeURIComponent(terminalId)}/audit`);
  }

  /** Asks the till to sync, audit against central and report (a sync trigger with reason AUDIT). */
  auditNow(terminalId: string) {
    return this.call(SyncAllResponse, 'POST', '/api/sync/all', { terminalId, type: 'FULL', reason: AUDIT_TRIGGER_REASON });
  }

  /** The till's version and the one HQ's update rollout has for it. */
  updateTarget(terminalId: string) {
    return this.call(TerminalUpdateResponse, 'GET', `/api/admin/updates/terminals/${encodeURIComponent(terminalId)}`);
  }

  analytics(weeks = 12) {
    return this.call(ConflictAnalyticsResponse, 'GET', `/api/conflicts/analytics${query({ weeks })}`);
  }
}

/** A refusal's words for the user: central's message, with what to do for a bad token. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return `The admin token was refused (${err.message}). Sign in again.`;
    if (err.status === 403) return `Not allowed: ${err.message}. The console needs the admin token, not a terminal key.`;
    return err.code === 'UNREACHABLE' || err.code === 'BAD_ANSWER' ? err.message : `${err.message} (${err.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}
