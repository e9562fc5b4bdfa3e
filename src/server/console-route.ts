/**
 * HQ's fleet console (src/console, built by vite into out/console) served by central
 * at /console: the page and its assets, read from the build folder on each request
 * (so building after central started works), nothing outside it. The page talks to
 * this same central only (the CSP says so: scripts from here, connections to here and
 * to this host's socket.io). Not part of the API: hidden from the OpenAPI document.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Where `vite build --config vite.console.config.ts` puts the console (TILLSYNC_CONSOLE_DIR overrides). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../out/console', import.meta.url));

export const CONSOLE_BUILD_HINT = 'npm run build (or: npx vite build --config vite.console.config.ts)';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

/** A file name vite writes: letters, digits, `.`, `_`, `-`; no dot first (no `..`, no hidden files). */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;

/**
 * The file a request path names inside `dir`, or null when it names none it may serve
 * (a traversal, an odd name, an unknown type). Pure.
 */
export function consoleFile(dir: string, path: string): string | null {
  const segments = path.split('/');
  if (segments.length > 8 || !segments.every((s) => SEGMENT.test(s))) return null;
  if (CONTENT_TYPES[extname(path).toLowerCase()] === undefined) return null;
  const root = resolve(dir);
  const file = resolve(root, ...segments);
  return file.startsWith(root + sep) ? file : null;
}

/** A Host header fit to name in the CSP (anything else gets 'self' alone). */
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** The page's Content-Security-Policy: everything from this origin; sockets to this host. */
export function consoleCsp(host: string | undefined): string {
  const sockets = host !== undefined && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TillSync console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The HQ console is not built</h1>
<p>Central serves the console from <code>${escapeHtml(dir)}</code>, which has no <code>index.html</code>.</p>
<p>Build it with <code>${escapeHtml(CONSOLE_BUILD_HINT)}</code>, then reload this page. (<code>npm start</code> builds it too.)</p>
</body></html>
`;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

async function readIfFile(file: string): Promise<Buffer | null> {
  try {
    if (!(await stat(file)).isFile()) return null;
    return await readFile(file);
  } catch {
    return null;
  }
}

/** Serves the console at /console from `dir` (default: TILLSYNC_CONSOLE_DIR, else out/console). */
export function registerConsole(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = resolve(opts.dir ?? (process.env.TILLSYNC_CONSOLE_DIR || DEFAULT_CONSOLE_DIR));
  const secure = (req: FastifyRequest, reply: FastifyReply) =>
    reply
      .header('content-security-policy', consoleCsp(req.headers.host))
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY');

  const page = async (req: FastifyRequest, reply: FastifyReply) => {
    secure(req, reply).header('cache-control', 'no-store');
    const html = await readIfFile(join(dir, 'index.html'));
    if (!html) return reply.status(404).type('text/html; charset=utf-8').send(NOT_BUILT(dir));
    return reply.type('text/html; charset=utf-8').send(html);
  };
  app.get('/console', { schema: { hide: true } }, page);
  app.get('/console/', { schema: { hide: true } }, page);
  app.get<{ Params: { '*': string } }>('/console/*', { schema: { hide: true } }, async (req, reply) => {
    const file = consoleFile(dir, req.params['*']);
    const body = file ? await readIfFile(file) : null;
    secure(req, reply);
    if (!file || !body) {
      const built = (await readIfFile(join(dir, 'index.html'))) !== null;
      return reply
        .status(404)
        .type('text/plain; charset=utf-8')
        .send(built ? `no console file ${req.params['*'].slice(0, 100)}` : `the HQ console is not built: ${CONSOLE_BUILD_HINT}`);
    }
    // vite names assets by their content: they never change under the same name.
    const immutable = req.params['*'].startsWith('assets/');
    return reply
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(CONTENT_TYPES[extname(file).toLowerCase()] as string)
      .send(body);
  });
}
