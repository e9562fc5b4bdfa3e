/**
 * The terminal's HTTP client for central. Every response is validated against the
 * shared schemas; failures come back as typed errors the engine can act on.
 */
import type { z } from 'zod';
import {
  ConflictListResponse,
  ErrorResponse,
  HeartbeatResponse,
  PullResponse,
  PushResponse,
  ResolveResponse,
  SchemaResponse,
  StatusResponse,
  type HeartbeatRequest,
  type PushRequest,
  type ResolveRequest,
} from '../../shared/protocol.js';
import { AuditReportResponse, AuditResponse, type AuditReport, type AuditRequest } from '../../shared/audit-protocol.js';

/** An audit request as sent (fanOut and listUpTo may be left to central's defaults). */
export type AuditRequestInput = Omit<AuditRequest, 'fanOut' | 'listUpTo'> & Partial<Pick<AuditRequest, 'fanOut' | 'listUpTo'>>;

/** Central could not be reached (or answered garbage): the terminal is offline. */
export class NetworkError extends Error {
  override name = 'NetworkError';
}

/** Central answered with an error status. */
/** The restore generation a 409 CENTRAL_RESTORED answer carries (`epoch`), if it does (pure). */
export function restoredEpoch(body: unknown): number | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const { code, epoch } = body as { code?: unknown; epoch?: unknown };
  return code === 'CENTRAL_RESTORED' && typeof epoch === 'number' && Number.isSafeInteger(epoch) && epoch >= 0 ? epoch : undefined;
}

export class CentralError extends Error {
  override name = 'CentralError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** With CENTRAL_RESTORED: central's restore generation now. */
    readonly epoch?: number,
  ) {
    super(message);
  }
  /** A 5xx (or 429) is central's trouble: try again later. A 4xx is ours. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429;
  }
  /**
   * Central will not take this terminal's key (unknown: 401; another terminal's, or a
   * disabled terminal: 403). No retry changes that: the settings (or central) must.
   */
  get refusesKey(): boolean {
    return this.status === 401 || (this.status === 403 && (this.code === 'WRONG_TERMINAL' || this.code === 'TERMINAL_DISABLED'));
  }
}

export interface CentralClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly timeoutMs?: number;
}

export class CentralClient {
  private readonly base: string;

  constructor(private readonly opts: CentralClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  get baseUrl(): string {
    return this.base;
  }

  private async call<S extends z.ZodType>(schema: S, method: string, path: string, body?: unknown): Promise<z.infer<S>> {
    // The timeout is a plain (ref'd) timer, not AbortSignal.timeout (unref'd): Node 20's
    // fetch can leave a request on a connection the peer closed at once unsettled, and
    // with nothing else holding the event loop (a one-shot command, the agent's start-up
    // key check) the process would end there, silently, with exit code 0.
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    let res: Response;
    let json: unknown;
    try {
      try {
        res = await fetch(this.base + path, {
          method,
          headers: {
            authorization: `Bearer ${this.opts.apiKey}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: abort.signal,
        });
      } catch (err) {
        throw new NetworkError(`central ${this.base} unreachable: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`);
      }
      try {
        json = await res.json();
      } catch {
        throw res.ok ? new NetworkError(`central answered ${method} ${path} with a body that is not JSON`) : new CentralError(res.status, 'HTTP_ERROR', `${method} ${path}: HTTP ${res.status}`);
      }
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const e = ErrorResponse.safeParse(json);
      throw new CentralError(res.status, e.success ? e.data.code : 'HTTP_ERROR', e.success ? e.data.message : `${method} ${path}: HTTP ${res.status}`, restoredEpoch(json));
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new NetworkError(`central's answer to ${method} ${path} does not match the protocol: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  push(req: PushRequest) {
    return this.call(PushResponse, 'POST', '/api/sync/push', req);
  }

  pull(q: { terminalId: string; entityType: string; cursor?: string | undefined; start?: 'changes' | 'snapshot' | undefined; limit: number; schemaHash: string }) {
    // knows: this engine acts on 409 CENTRAL_RESTORED (store/restored.ts).
    const params = new URLSearchParams({ terminalId: q.terminalId, entityType: q.entityType, limit: String(q.limit), schemaHash: q.schemaHash, knows: 'CENTRAL_RESTORED' });
    if (q.cursor) params.set('cursor', q.cursor);
    else if (q.start) params.set('start', q.start);
    return this.call(PullResponse, 'GET', `/api/sync/pull?${params.toString()}`);
  }

  heartbeat(req: HeartbeatRequest) {
    return this.call(HeartbeatResponse, 'POST', '/api/sync/heartbeat', req);
  }

  resolve(req: ResolveRequest) {
    return this.call(ResolveResponse, 'POST', '/api/sync/resolve', req);
  }

  conflicts(q: { terminalId: string; status?: 'open' | 'resolved'; limit?: number }) {
    const params = new URLSearchParams({ terminalId: q.terminalId, limit: String(q.limit ?? 200) });
    if (q.status) params.set('status', q.status);
    return this.call(ConflictListResponse, 'GET', `/api/sync/conflicts?${params.toString()}`);
  }

  status(terminalId: string) {
    return this.call(StatusResponse, 'GET', `/api/sync/status?terminalId=${encodeURIComponent(terminalId)}`);
  }

  /** Digests of ranges of one table's rows in this terminal's scope (the convergence audit). */
  audit(req: AuditRequestInput) {
    return this.call(AuditResponse, 'POST', '/api/sync/audit', req);
  }

  /** Hands an audit's report to HQ (the console shows the latest). */
  auditReport(terminalId: string, report: AuditReport) {
    return this.call(AuditReportResponse, 'POST', '/api/sync/audit-report', { terminalId, report });
  }

  /** The columns of every catalog table at central (for the parity check). */
  schema() {
    return this.call(SchemaResponse, 'GET', '/api/sync/schema');
  }
}
