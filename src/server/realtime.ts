/**
 * socket.io on the HTTP server's port. The handshake carries the terminal key
 * (`auth: { token }` or an Authorization header); a socket acts only as its terminal.
 */
import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { AckPayload, RegisterPayload, SOCKET_EVENTS, type SocketReply, type SyncTrigger } from '../shared/protocol.js';
import { bearerToken, type Authenticator } from './auth.js';
import { HttpError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { TriggerService } from './services/triggers.js';

interface SocketData {
  terminalId: string;
  registered: boolean;
}

type Reply = (r: SocketReply) => void;

const room = (terminalId: string) => `terminal:${terminalId}`;

export class Realtime {
  readonly io: Server;
  private readonly registered = new Map<string, number>();

  constructor(
    http: HttpServer,
    private readonly auth: Authenticator,
    private readonly triggers: TriggerService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.io = new Server(http, { serveClient: false, maxHttpBufferSize: 64 * 1024 });
    this.io.use((socket, next) => {
      const token =
        (typeof socket.handshake.auth.token === 'string' ? socket.handshake.auth.token : undefined) ??
        bearerToken(socket.handshake.headers.authorization);
      this.auth
        .authenticate(token)
        .then((p) => {
          if (p.kind !== 'terminal') return next(new Error('sockets are for terminals: connect with a terminal key'));
          const data = socket.data as SocketData;
          data.terminalId = p.terminalId;
          data.registered = false;
          next();
        })
        .catch((err: unknown) => next(new Error(err instanceof HttpError ? err.message : 'authentication failed')));
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
  }

  async start(): Promise<void> {
    await this.triggers.subscribe(
      (t) => this.emit(t),
      (err) => this.log.error({ err }, 'delivering a sync trigger failed'),
    );
  }

  isConnected(terminalId: string): boolean {
    return (this.registered.get(terminalId) ?? 0) > 0;
  }

  private emit(t: SyncTrigger): void {
    if (!this.isConnected(t.terminalId)) return; // it gets the trigger when it registers
    this.io.to(room(t.terminalId)).emit(SOCKET_EVENTS.trigger, t);
    this.metrics.triggersSent.inc({ reason: t.reason });
  }

  private onConnection(socket: Socket): void {
    const data = socket.data as SocketData;
    const log = this.log.child({ terminalId: data.terminalId, socket: socket.id });
    log.debug('socket connected');

    socket.on(SOCKET_EVENTS.register, async (payload: unknown, reply?: Reply) => {
      const parsed = RegisterPayload.safeParse(payload);
      if (!parsed.success) return reply?.({ ok: false, error: `invalid ${SOCKET_EVENTS.register}: ${parsed.error.issues[0]?.message}` });
      if (parsed.data.terminalId !== data.terminalId) {
        return reply?.({ ok: false, error: `this key belongs to terminal ${data.terminalId}, not ${parsed.data.terminalId}` });
      }
      if (!data.registered) {
        data.registered = true;
        await socket.join(room(data.terminalId));
        const sockets = (this.registered.get(data.terminalId) ?? 0) + 1;
        this.registered.set(data.terminalId, sockets);
        if (sockets === 1) this.metrics.connectedTerminals.inc(); // terminals, not sockets
      }
      log.info('terminal registered');
      reply?.({ ok: true });
      try {
        for (const t of await this.triggers.pending(data.terminalId)) {
          socket.emit(SOCKET_EVENTS.trigger, t);
          this.metrics.triggersSent.inc({ reason: t.reason });
        }
      } catch (err) {
        log.error({ err }, 'reading pending triggers failed');
      }
    });

    socket.on(SOCKET_EVENTS.ack, async (payload: unknown, reply?: Reply) => {
      const parsed = AckPayload.safeParse(payload);
      if (!parsed.success) return reply?.({ ok: false, error: `invalid ${SOCKET_EVENTS.ack}: ${parsed.error.issues[0]?.message}` });
      if (parsed.data.terminalId !== data.terminalId) {
        return reply?.({ ok: false, error: `this key belongs to terminal ${data.terminalId}, not ${parsed.data.terminalId}` });
      }
      try {
        const n = await this.triggers.ack(data.terminalId, parsed.data.type, parsed.data.triggerId);
        log.info({ type: parsed.data.type, acked: n }, 'sync acknowledged');
        reply?.({ ok: true });
      } catch (err) {
        log.error({ err }, 'recording sync:ack failed');
        reply?.({ ok: false, error: 'could not record the acknowledgement' });
      }
    });

    socket.on('disconnect', (reason) => {
      if (data.registered) {
        const n = (this.registered.get(data.terminalId) ?? 1) - 1;
        if (n > 0) this.registered.set(data.terminalId, n);
        else {
          this.registered.delete(data.terminalId);
          this.metrics.connectedTerminals.dec();
        }
      }
      log.debug({ reason }, 'socket disconnected');
    });
  }

  async close(): Promise<void> {
    await this.triggers.close();
    // The HTTP server is fastify's to close; only end the sockets here.
    this.io.disconnectSockets(true);
    this.io.engine.close();
  }
}
