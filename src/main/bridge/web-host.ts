/**
 * Web mode: the same IPC contract over HTTP on 127.0.0.1, for the renderer running
 * in a plain browser (where Electron cannot run, and in end-to-end tests). Calls are
 * `POST /ipc/<channel>` with `{ "args": [...] }`; events stream as server-sent events
 * from `GET /events`. Every request carries the session token (header
 * `Authorization: Bearer <token>`, or `?token=` where EventSource cannot set headers).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { RENDERER_CSP } from '../window-security.js';
import type { EngineHost } from './engine-host.js';
import { sameSecret } from './same-secret.js';

export interface WebBridge {
  readonly url: string;
  readonly token: string;
  /** The page to open: the renderer with the session token. */
  readonly pageUrl: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};


/** Serves a file of the built renderer (no token needed: it holds no secrets), never outside `root`. */
async function serveStatic(root: string, pathname: string, res: ServerResponse): Promise<void> {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return send(res, 400, { ok: false, error: { code: 'BAD_PATH', message: 'bad path' } });
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  const file = normalize(join(root, rel));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return send(res, 404, { ok: false, error: { code: 'NOT_FOUND', message: 'not found' } });
  try {
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': RENDERER_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
    res.end(body);
  } catch {
    send(res, 404, { ok: false, error: { code: 'NOT_FOUND', message: `no file ${rel}` } });
  }
}

/** One server-sent event. */
const frame = (event: string, payload: unknown): string => `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1] ?? url.searchParams.get('token') ?? undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts the bridge host on 127.0.0.1 (never another interface). `port` 0 picks a free one. */
export async function startWebBridge(host: EngineHost, opts: { port?: number; token?: string; staticDir?: string } = {}): Promise<WebBridge> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const authorized = (given: string | undefined) => sameSecret(given, token);
  const streams = new Set<ServerResponse>();

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      // Nothing a request carries may stop the till's engine.
      if (!res.headersSent) send(res, 400, { ok: false, error: { code: 'BAD_REQUEST', message: err instanceof Error ? err.message : String(err) } });
      else res.destroy();
    }
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const api = url.pathname === '/events' || url.pathname.startsWith('/ipc/');
    if (!api && opts.staticDir && (req.method === 'GET' || req.method === 'HEAD')) return void serveStatic(normalize(opts.staticDir), url.pathname, res);
    if (!authorized(tokenOf(req, url))) return send(res, 401, { ok: false, error: { code: 'UNAUTHORIZED', message: 'missing or wrong bridge token' } });

    if (req.method === 'GET' && url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(': connected\n\n');
      // The engine's status as the stream opens: a page reads its first status over
      // /ipc while this stream is still connecting, and what changed in between (a pass
      // ending) would otherwise never reach it.
      const status = host.currentStatus();
      if (status) res.write(frame('statusChanged', status));
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    const m = /^\/ipc\/([a-zA-Z]+:[a-zA-Z]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return send(res, 404, { ok: false, error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` } });
    readBody(req)
      .then(async (text) => {
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : {};
        } catch {
          return send(res, 400, { ok: false, error: { code: 'INVALID_JSON', message: 'the body is not JSON' } });
        }
        const args = typeof body === 'object' && body !== null && 'args' in body ? (body as { args: unknown }).args : [];
        send(res, 200, await host.invoke(m[1] as string, args));
      })
      .catch((err: unknown) => send(res, 400, { ok: false, error: { code: 'BAD_REQUEST', message: err instanceof Error ? err.message : String(err) } }));
  }

  const unsubscribe = host.subscribe((event, payload) => {
    const text = frame(event, payload);
    for (const s of streams) s.write(text);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${opts.port} on 127.0.0.1 is in use; choose another one for the companion UI`) : err),
    );
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    pageUrl: `http://127.0.0.1:${port}/?token=${token}`,
    async close() {
      unsubscribe();
      for (const s of streams) s.end();
      streams.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections (a browser's, an ended event stream's) must not hold the close.
      server.closeAllConnections();
      await closed;
    },
  };
}
