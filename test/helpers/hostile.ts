/**
 * Helpers for the hostile-input tests: a digest of everything central stores (to prove
 * a refused request changed nothing), a raw HTTP exchange over a socket (for requests
 * no HTTP client would send), and the check that an answer is a documented error.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Database } from '../../src/server/db/database.js';
import { ident, literal } from '../../src/server/db/sql.js';
import { ErrorResponse } from '../../src/shared/protocol.js';

/**
 * Every row of every table central has (catalog tables, sync_* tables, anything added
 * later), one md5 per table: equal digests mean no row was added, removed or changed.
 */
export async function tableDigest(db: Database): Promise<Record<string, string>> {
  const tables = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const sql = tables.rows
    .map(
      (t) =>
        `SELECT ${literal(t.name)} AS name, (SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM ${ident(t.name)} x) AS digest`,
    )
    .join(' UNION ALL ');
  const r = await db.query<{ name: string; digest: string }>(sql);
  return Object.fromEntries(r.rows.map((x) => [x.name, x.digest]));
}

export interface ParsedResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface RawExchange {
  /** Every complete response read, in order. */
  readonly responses: ParsedResponse[];
  /** How the connection ended: the server closed it (FIN), an error (a reset), or it stayed open past the timeout. */
  readonly ending: 'end' | 'error' | 'timeout';
  readonly error?: string;
  /** Bytes after the last complete response (a truncated answer). */
  readonly leftover: number;
}

/** Writes raw bytes to central and reads until the server closes the connection. */
export function rawExchange(baseUrl: string, data: string | Buffer, timeoutMs = 5000): Promise<RawExchange> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname);
    let settled = false;
    const finish = (ending: RawExchange['ending'], error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const { responses, leftover } = parseResponses(Buffer.concat(chunks));
      resolve({ responses, ending, ...(error ? { error } : {}), leftover });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => finish('end'));
    socket.on('error', (err: NodeJS.ErrnoException) => finish('error', err.code ?? err.message));
  });
}

/** Splits what a server wrote into HTTP/1.1 responses (Content-Length or chunked bodies). */
export function parseResponses(buf: Buffer): { responses: ParsedResponse[]; leftover: number } {
  const responses: ParsedResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const lines = buf.subarray(at, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (!m) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const status = Number(m[1]);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status === 100) {
      at = bodyStart;
      continue;
    }
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const sizeEnd = buf.indexOf('\r\n', bodyStart);
        if (sizeEnd === -1) break;
        const size = parseInt(buf.subarray(bodyStart, sizeEnd).toString('latin1'), 16);
        if (Number.isNaN(size) || sizeEnd + 2 + size + 2 > buf.length) break;
        if (size === 0) {
          bodyStart = sizeEnd + 4;
          complete = true;
          break;
        }
        parts.push(buf.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        bodyStart = sizeEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      at = bodyStart;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (bodyStart + length > buf.length) break;
      body = buf.subarray(bodyStart, bodyStart + length);
      at = bodyStart + length;
    }
    responses.push({ status, headers, body: body.toString('utf8') });
  }
  return { responses, leftover: buf.length - at };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** One request through node's HTTP client (any method may carry a body; connections kept alive by `agent`). */
export function httpExchange(
  baseUrl: string,
  agent: Agent,
  req: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer },
): Promise<HttpAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers: req.headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Largest error answer allowed: it names the problem and quotes short excerpts, whatever was sent. */
export const MAX_ERROR_BYTES = 16 * 1024;
const ERROR_KEYS = new Set(['statusCode', 'error', 'code', 'message', 'details']);

/** What is wrong with an answer that should be a documented error (`{ statusCode, error, code, message, details? }`); empty if nothing. */
export function errorShapeProblems(status: number, contentType: string | undefined, text: string): string[] {
  const problems: string[] = [];
  if (status < 400 || status > 499) problems.push(`status ${status}, not a 4xx`);
  if (!/^application\/json/.test(contentType ?? '')) problems.push(`content-type ${String(contentType)}`);
  if (Buffer.byteLength(text) > MAX_ERROR_BYTES) problems.push(`answer of ${Buffer.byteLength(text)} bytes (limit ${MAX_ERROR_BYTES})`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    problems.push(`body is not JSON: ${text.slice(0, 200)}`);
    return problems;
  }
  const parsed = ErrorResponse.safeParse(body);
  if (!parsed.success) {
    problems.push(`not the documented shape: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return problems;
  }
  const extra = Object.keys(body as object).filter((k) => !ERROR_KEYS.has(k));
  if (extra.length > 0) problems.push(`undocumented keys ${extra.join(', ')}`);
  if (parsed.data.statusCode !== status) problems.push(`statusCode ${parsed.data.statusCode} but HTTP status ${status}`);
  if (!/^[A-Z][A-Z0-9_]*$/.test(parsed.data.code)) problems.push(`code ${JSON.stringify(parsed.data.code.slice(0, 80))} is not a documented code`);
  return problems;
}
