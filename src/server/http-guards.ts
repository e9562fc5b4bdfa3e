/**
 * What stands between the raw HTTP connection and the routes: the JSON body parser
 * (nesting bounded before anything walks the body), the answer to requests the HTTP
 * parser itself refuses, and fastify's own routing errors. Each answers in the
 * documented error shape (`{ statusCode, error, code, message }`), never with a 5xx.
 */
import { maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, HttpError, httpReason } from './errors.js';

/**
 * Deepest nesting of a JSON body (an object or array is one level). A push is four
 * levels down to a row image and a json column may nest JSON_MAX_DEPTH (16) more, so
 * no valid request comes near it; zod's walk of a value recurses, and a body nested
 * thousands deep would overflow the stack (a 500), or cost seconds of JSON.parse.
 */
export const MAX_BODY_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether JSON text nests deeper than `max` levels, read from the text before it is
 * parsed: brackets inside strings do not count. Malformed text may be miscounted; it
 * is refused either way. About a third of a millisecond for a 250 KB push of 500
 * changes (JSON.parse of it: about one).
 */
export function jsonTextNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Jump to the closing quote: one not preceded by an odd number of backslashes.
      let end = text.indexOf('"', i + 1);
      for (;;) {
        if (end === -1) return false;
        let b = end - 1;
        while (text.charCodeAt(b) === BACKSLASH) b--;
        if ((end - 1 - b) % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      i = end;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** Replaces fastify's JSON parser with the same parser behind the nesting bound. */
export function installJsonBodyParser(app: FastifyInstance): void {
  // fastify's defaults (this app does not change them): a body with __proto__ or
  // constructor.prototype keys is refused.
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8'); // a string: parseAs
    if (jsonTextNestsDeeperThan(text, MAX_BODY_DEPTH)) {
      done(new HttpError(400, 'NESTED_TOO_DEEP', `the JSON body nests deeper than ${MAX_BODY_DEPTH} levels`), undefined);
      return;
    }
    parse(req, text, done);
  });
}

/** Answers of the HTTP parser's refusals, by node's error code; anything else is a 400. */
const PARSER_REFUSALS: Readonly<Record<string, { status: number; code: string; message: string }>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    message: `the request line and headers are larger than the limit of ${maxHeaderSize} bytes`,
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, code: 'CHUNK_EXTENSIONS_TOO_LARGE', message: 'the chunk extensions of the body are too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' },
};

/** How long a refused connection may keep sending before it is closed regardless. */
const DRAIN_MS = 5000;

/**
 * Writes a complete error response in the documented shape with `Connection: close` on
 * a connection the HTTP server has given up on, then ends it (FIN), and reads and drops
 * whatever the client still sends until it closes its side or DRAIN_MS pass: closing a
 * socket with unread bytes makes the kernel send a reset, which can discard the answer
 * at the client before it is read.
 */
function endWithError(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(status, code, message));
  socket.end(
    `HTTP/1.1 ${status} ${httpReason(status)}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), DRAIN_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** The response node's HTTP server is writing on a socket, if any (node's own field; it has no public accessor). */
function inFlightResponse(socket: Socket): ServerResponse | undefined {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * fastify's `clientErrorHandler`: the answer to a request the HTTP parser refused (a
 * malformed request line or header, headers over the size limit, a broken chunked body,
 * a request too slow to arrive). fastify's default answers without a `code` and
 * destroys the socket without `Connection: close`: a client that keeps connections
 * alive then sends its next request down a dead one and gets ECONNRESET, and unread
 * bytes turn the close into a reset that can discard the answer itself. Here the
 * connection ends as endWithError ends it.
 */
export function clientErrorHandler(logs: {
  readonly log?: FastifyBaseLogger;
}): (err: NodeJS.ErrnoException & { reason?: unknown }, socket: Socket) => void {
  // The parser fails again on each further chunk of a broken connection: answer once.
  const answered = new WeakSet<Socket>();
  return (err, socket) => {
    // A reset connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
    answered.add(socket);
    const known = PARSER_REFUSALS[err.code ?? ''];
    const reason = typeof err.reason === 'string' ? err.reason : 'malformed request';
    const { status, code, message } = known ?? { status: 400, code: 'BAD_REQUEST', message: `the request is not valid HTTP: ${reason}` };
    logs.log?.debug({ err: { code: err.code, reason } }, 'HTTP client error');
    let sent = false;
    const answer = () => {
      if (sent) return;
      sent = true;
      endWithError(socket, status, code, message);
    };
    // A response still being written belongs to an earlier request of this connection
    // (pipelined) whose request arrived whole: the refusal follows it, never cuts into it.
    // When that request is the broken one (its body not complete), it is answered now.
    const inFlight = inFlightResponse(socket);
    if (inFlight && !inFlight.writableFinished && inFlight.req.complete) {
      inFlight.once('finish', answer);
      inFlight.once('close', answer);
    } else {
      answer();
    }
  };
}

/** socket.io's path (its default, which src/server/realtime.ts keeps): the one place a protocol upgrade is for. */
const SOCKET_IO_PATH = '/socket.io/';

/**
 * What node's HTTP server answers by itself, without a body: an `Expect` other than
 * 100-continue (a bare 417) and a CONNECT request (the socket destroyed, no answer; this
 * server is no proxy). And an `Upgrade` anywhere but socket.io's path, which socket.io
 * leaves unanswered for a second and then closes. Each gets the documented shape instead.
 */
export function installServerGuards(server: Server): void {
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(errorBody(417, 'EXPECTATION_FAILED', 'the only expectation this server meets is Expect: 100-continue'));
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    endWithError(socket, 405, 'METHOD_NOT_ALLOWED', 'CONNECT is not served here (this is no proxy)');
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    // socket.io answers its own path; once this has answered, it leaves the socket alone.
    if (req.url?.startsWith(SOCKET_IO_PATH)) return;
    endWithError(socket, 400, 'UPGRADE_REFUSED', `only ${SOCKET_IO_PATH} accepts a protocol upgrade`);
  });
}

/** fastify's routing refusals (`frameworkErrors`): a URL that does not decode, a path parameter over the router's limit. */
export function frameworkErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_BAD_URL') {
    // fastify's own answer quotes the whole URL.
    void reply.status(400).send(errorBody(400, 'BAD_URL', 'the URL is not valid (a malformed percent-encoding?)'));
    return;
  }
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.status(414).send(errorBody(414, 'URI_TOO_LONG', 'a path parameter of the URL is too long'));
    return;
  }
  reply.log.error({ err }, 'routing failed');
  void reply.status(500).send(errorBody(500, 'INTERNAL', 'internal error; see the server log'));
}
