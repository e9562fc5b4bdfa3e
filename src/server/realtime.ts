/**
 * socket.io on the HTTP server's port. The handshake carries the terminal key
 * (`auth: { token }` or an Authorization header); a socket acts only as its terminal.
 *
 * Across a restart of central (or a lost connection, or a move to another instance)
 * a plain socket.io client comes back by itself and is registered again without
 * asking: close() drops the connections as a lost transport, which socket.io-client
 * reconnects after, and a client coming back is known by the session id socket.io
 * gave it (see the constructor), so a client that emitted `terminal:register` once
 * after io(), as the seed's example does, still gets its triggers.
 */
import type { Server as HttpServer } from 'node:http';
import type { FastifyBaseLogger as Logger } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { AckPayload, RegisterPayload, SOCKET_EVENTS, type ChangesHint, type SocketReply, type SyncTrigger } from '../shared/protocol.js';
import { bearerToken, type Authenticator } from './auth.js';
import { HttpError } from './errors.js';
import type { Database } from './db/database.js';
import type { Metrics } from './metrics.js';
import { ChangeHints, type HintTargets, type HintTiming } from './services/change-hints.js';
import { FLEET_CHANNEL } from './services/fleet.js';
import { FleetNews } from './services/fleet-news.js';
import type { TriggerService } from './services/triggers.js';

interface SocketData {
  terminalId: string;
  storeId: string;
  registered: boolean;
}

type Reply = (r: SocketReply) => void;

const room = (terminalId: string) => `terminal:${terminalId}`;

/** socket.io namespace of HQ's console (admin token). */
export const CONSOLE_NAMESPACE = '/console';

export class Realtime {
  readonly io: Server;
  private readonly registered = new Map<string, number>();
  /** Registered terminals by store (for change hints): store -> terminal ids. */
  private readonly byStore = new Map<string, Set<string>>();
  private readonly hints: ChangeHints;
  /** The console's live view: which tills reported, coalesced, to admin sockets on /console. */
  private readonly fleetNews: FleetNews;
  private stopFleetNews: (() => Promise<void>) | undefined;
  private closing = false;

  constructor(
    http: HttpServer,
    private readonly auth: Authenticator,
    private readonly triggers: TriggerService,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly db: Database,
    hintTiming?: HintTiming,
  ) {
    const targets: HintTargets = {
      inStore: (storeId) => this.byStore.get(storeId) ?? [],
      all: () => this.registered.keys(),
    };
    this.hints = new ChangeHints(
      db,
      targets,
      (terminalId, entityTypes) => this.hint(terminalId, entityTypes),
      (payload) => this.log.warn({ payload: payload.slice(0, 200) }, 'ignored a malformed change announcement'),
      hintTiming,
    );
    this.io = new Server(http, {
      serveClient: false,
      maxHttpBufferSize: 64 * 1024,
      // Connection state recovery is on for its session id alone: socket.io hands every
      // socket a `pid`, and socket.io-client (4.6 and later) sends it back in the
      // handshake when it reconnects, even to another process. A socket with one is a
      // client coming back, registered before as far as it knows (its register was sent
      // once), so it is registered again on connect. The plain Adapter keeps no
      // sessions, so nothing is ever restored (triggers missed meanwhile come from the
      // database as pending ones) and broadcasts carry no offset argument.
      connectionStateRecovery: { skipMiddlewares: false },
      adapter: Adapter,
      // Once closing, new handshakes are refused (403, which the client retries with its
      // backoff): one accepted between close() and the HTTP server's close would hold
      // that close open for as long as it stays connected.
      allowRequest: (_req, answer) => answer(null, !this.closing),
    });
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
          data.storeId = p.storeId;
          data.registered = false;
          next();
        })
        .catch((err: unknown) => next(new Error(err instanceof HttpError ? err.message : 'authentication failed')));
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    // The console (admin token only): it hears `fleet:changed` and reads what changed.
    const consoleNs = this.io.of(CONSOLE_NAMESPACE);
    consoleNs.use((socket, next) => {
      const token =
        (typeof socket.handshake.auth.token === 'string' ? socket.handshake.auth.token : undefined) ??
        bearerToken(socket.handshake.headers.authorization);
      this.auth
        .authenticate(token)
        .then((p) => (p.kind === 'admin' ? next() : next(new Error('the console is for HQ: connect with the admin token'))))
        .catch((err: unknown) => next(new Error(err instanceof HttpError ? err.message : 'authentication failed')));
    });
    this.fleetNews = new FleetNews((news) => consoleNs.emit(SOCKET_EVENTS.fleetChanged, news));
  }

  async start(): Promise<void> {
    await this.triggers.subscribe(
      (t) => this.emit(t),
      (err) => this.log.error({ err }, 'delivering a sync trigger failed'),
    );
    await this.hints.start();
    this.stopFleetNews = await this.db.listen(
      FLEET_CHANNEL,
      (terminalId) => this.fleetNews.changed(terminalId),
      () => this.fleetNews.changedAll(),
    );
  }

  /** Tells a terminal that tables it pulls have changed at central (a hint: it pulls them now). */
  private hint(terminalId: string, entityTypes: string[]): void {
    const hint: ChangesHint = { terminalId, entityTypes, at: new Date().toISOString() };
    this.io.to(room(terminalId)).emit(SOCKET_EVENTS.changes, hint);
    this.metrics.hintsSent.inc();
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
      const joined = await this.join(socket);
      log.info('terminal registered');
      reply?.({ ok: true });
      // A socket registered already has had its pending triggers and every one since.
      if (joined) await this.sendPending(socket, log);
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
          const store = this.byStore.get(data.storeId);
          store?.delete(data.terminalId);
          if (store?.size === 0) this.byStore.delete(data.storeId);
          this.metrics.connectedTerminals.dec();
        }
      }
      log.debug({ reason }, 'socket disconnected');
    });

    if (typeof socket.handshake.auth.pid === 'string') {
      // A client coming back (see the constructor): registered as it was, without
      // waiting for a terminal:register it may never send again.
      this.join(socket)
        .then(async (joined) => {
          if (!joined) return;
          log.info('terminal registered again on reconnect');
          await this.sendPending(socket, log);
        })
        .catch((err: unknown) => log.error({ err }, 'registering a returning socket failed'));
    }
  }

  /** Registers the socket for its terminal's triggers; false if it was already. */
  private async join(socket: Socket): Promise<boolean> {
    const data = socket.data as SocketData;
    if (data.registered) return false;
    data.registered = true;
    const sockets = (this.registered.get(data.terminalId) ?? 0) + 1;
    this.registered.set(data.terminalId, sockets);
    const store = this.byStore.get(data.storeId) ?? new Set<string>();
    store.add(data.terminalId);
    this.byStore.set(data.storeId, store);
    if (sockets === 1) this.metrics.connectedTerminals.inc(); // terminals, not sockets
    await socket.join(room(data.terminalId));
    return true;
  }

  /** Sends the terminal's unacknowledged triggers (those it missed while not registered). */
  private async sendPending(socket: Socket, log: Logger): Promise<void> {
    const data = socket.data as SocketData;
    try {
      for (const t of await this.triggers.pending(data.terminalId)) {
        socket.emit(SOCKET_EVENTS.trigger, t);
        this.metrics.triggersSent.inc({ reason: t.reason });
      }
    } catch (err) {
      log.error({ err }, 'reading pending triggers failed');
    }
  }

  /**
   * The drain (SIGTERM): new handshakes are refused, every socket (tills and the
   * console) is told `server:draining`, and its connection is closed after that event
   * is written, as a lost transport (not socket.io's DISCONNECT, see close()): every
   * socket.io client reconnects by itself, through the load balancer, to an instance
   * that still listens.
   */
  drainSockets(): void {
    this.closing = true;
    const notice = { at: new Date().toISOString() };
    this.io.emit(SOCKET_EVENTS.draining, notice);
    this.io.of(CONSOLE_NAMESPACE).emit(SOCKET_EVENTS.draining, notice);
    // Without discarding: each closes once what it was sent is written.
    for (const ns of [this.io.sockets, this.io.of(CONSOLE_NAMESPACE)]) for (const socket of ns.sockets.values()) socket.conn.close();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.triggers.close();
    await this.hints.close();
    await this.stopFleetNews?.();
    this.fleetNews.close();
    // The HTTP server is fastify's to close; only end the sockets here. Their engine.io
    // connections are closed, without socket.io's DISCONNECT packet (which
    // disconnectSockets() sends): a client takes that for a deliberate disconnect and
    // never reconnects, while a closed transport it reconnects after, with its default
    // backoff (1 s doubling to 5 s, randomised), so it is back within a few seconds of
    // central and gets the SERVER_RESTART trigger, live or as pending.
    this.io.engine.close();
  }
}
