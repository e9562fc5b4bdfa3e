/**
 * Central's HTTP API as the tests call it: the admin token the test centrals accept and
 * a small client. Apart from test/helpers/central.ts, which opens central's databases:
 * a file that only talks to a central in another process imports this, and does not
 * depend on TEST_DATABASE_URL (scripts/db-test-files.ts).
 */

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Headers;
}

/** A tiny HTTP client that never throws on a status code. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined,
  ) {}

  async request<T = any>(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...opts.headers };
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  get<T = any>(path: string, query?: Record<string, string | number | undefined>) {
    const qs = query
      ? '?' + new URLSearchParams(Object.entries(query).filter((e): e is [string, string | number] => e[1] !== undefined).map(([k, v]) => [k, String(v)])).toString()
      : '';
    return this.request<T>('GET', path + qs);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, { body: body ?? {} });
  }
  patch<T = any>(path: string, body?: unknown) {
    return this.request<T>('PATCH', path, { body: body ?? {} });
  }
}

export interface ProvisionedTerminal {
  readonly terminalId: string;
  readonly storeId: string;
  readonly apiKey: string;
  readonly api: ApiClient;
}
