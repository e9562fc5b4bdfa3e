/**
 * The connections' part of central's graceful drain (SIGTERM; Central.drain in app.ts):
 * stop listening, let fastify close idle keep-alive connections and answer every
 * request under way (each with `Connection: close`), tell the sockets `server:draining`
 * and close them so their clients reconnect to another instance, and cut what is still
 * open after `timeoutMs`.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';

export interface DrainResult {
  /** false when the timeout cut connections still open. */
  readonly completed: boolean;
}

/** What of the socket server a drain needs (realtime.ts). */
export interface DrainableSockets {
  drainSockets(): void;
  close(): Promise<void>;
}

/** Closes central's HTTP server and sockets; resolves once every connection has ended. */
export async function drainConnections(
  app: Pick<FastifyInstance, 'close' | 'server'> & { readonly log: FastifyBaseLogger },
  sockets: DrainableSockets | undefined,
  timeoutMs: number,
): Promise<DrainResult> {
  // fastify stops listening and closes idle keep-alive connections; its promise
  // resolves once every connection has ended, each request under way answered.
  const httpClosed = app.close();
  sockets?.drainSockets();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    httpClosed.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    app.log.warn({ timeoutMs }, 'drain timed out: closing the connections still open');
    await sockets?.close(); // sockets too (an upgraded connection is not the HTTP server's to close)
    app.server.closeAllConnections();
    await httpClosed;
  }
  await sockets?.close();
  return { completed: !timedOut };
}
