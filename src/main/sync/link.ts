/**
 * The engine's link to central: the socket (triggers and change hints), heartbeats,
 * offline detection and recovery. It knows whether central is reachable and REPORTS
 * what happened to its host (online, offline, reconnected, a trigger, a hint); what
 * to push, pull or write in the store is the host's business, never the link's.
 */
import type { Logger } from 'pino';
import { io, type Socket } from 'socket.io-client';
import { ChangesHint, SOCKET_EVENTS, SyncTrigger, type ReportedRun, type SocketReply, type TableCounts } from '../../shared/protocol.js';
import type { EngineStatus } from '../../shared/ipc.js';
import { nextBackoff } from '../../shared/backoff.js';
import { failureOf } from './failure.js';
import type { CentralPort } from './ports.js';
import type { SyncConfig } from './sync-config.js';

export type Connection = EngineStatus['connection'];

/** What the link reports. Called synchronously, after the link's own state changed. */
export interface LinkEvents {
  /** Central is reachable again; `wasOffline` when it had been unreachable (not at the first contact). */
  online(wasOffline: boolean): void;
  /** Central became unreachable. */
  offline(reason: string): void;
  /** The socket connected again after a drop (triggers are hints, not a log: time for a checkpoint). */
  reconnected(): void;
  /** Central asked for a sync; the link acknowledges it when the returned promise resolves. */
  trigger(t: SyncTrigger): Promise<unknown>;
  /** Central announced changes to these entity types. */
  hinted(entityTypes: readonly string[]): void;
}

/** What a heartbeat tells central about this till. */
export interface TillReport {
  readonly syncing: boolean;
  readonly outbox: Record<string, TableCounts>;
  readonly lastSyncAt: string | null;
  /** For HQ's fleet view (optional: a test's report may leave them out). */
  readonly oldestPendingAt?: string | null;
  readonly unsyncedSales?: { readonly count: number; readonly total: number };
  readonly cursors?: Record<string, string>;
  readonly schemaVersion?: string;
  readonly recentRuns?: ReportedRun[];
}

export interface LinkDeps {
  readonly client: Pick<CentralPort, 'heartbeat'>;
  readonly config: Pick<SyncConfig, 'centralUrl' | 'apiKey' | 'reconnectMaxDelayMs' | 'retryDelay' | 'appVersion'>;
  readonly log: Logger;
  terminalId(): string;
  /** Read when a heartbeat goes out. */
  report(): TillReport;
  readonly events: LinkEvents;
}

/**
 * The connection after central answered (`reached`) or could not be reached (pure):
 * `changed` when it is news, `cameBack` when it had been offline (not the first contact).
 */
export function linkAfter(current: Connection, reached: boolean): { next: Connection; changed: boolean; cameBack: boolean } {
  if (reached) return { next: 'online', changed: current !== 'online', cameBack: current === 'offline' };
  return { next: 'offline', changed: current !== 'offline', cameBack: false };
}

/**
 * socket.io reconnects by itself after a lost transport, but not after the server
 * closed the socket (a graceful restart) or refused the handshake (pure).
 */
export function needsReconnect(e: { readonly disconnected: string } | { readonly connectFailed: { readonly active: boolean } }): boolean {
  return 'disconnected' in e ? e.disconnected === 'io server disconnect' : !e.connectFailed.active;
}

/**
 * How long a socket handshake may be on its way before central answering over HTTP
 * means it is stuck (a handshake takes one round trip).
 */
export const HANDSHAKE_GRACE_MS = 1500;

/**
 * What to do with the socket when central has just answered over HTTP (pure): nothing
 * when it is connected or its handshake (the websocket's, then socket.io's CONNECT,
 * which central answers after checking the key) went out `handshakeMs` ago, less than
 * the grace; otherwise `connect` at once, aborting a handshake that hangs or a
 * reconnect waiting out its backoff (up to `reconnectMaxDelayMs`): central is there,
 * and its hints are how HQ's changes reach the till within a second.
 */
export function socketOnReachable(s: { readonly connected: boolean; readonly handshaking: boolean; readonly handshakeMs: number }): 'nothing' | 'connect' {
  if (s.connected) return 'nothing';
  if (s.handshaking && s.handshakeMs < HANDSHAKE_GRACE_MS) return 'nothing';
  return 'connect';
}

/** The longest a report of the outbox waits after the first wish for it, ms (plus its debounce). */
export const REPORT_MAX_HOLD_MS = 2000;
/** The quiet time a report waits for after the last wish, ms. */
export const REPORT_DEBOUNCE_MS = 300;

/**
 * A wish to report the outbox at `now` (pure): `start` a timer (none is pending),
 * `restart` it (a burst goes on: report after its last push), or `keep` the one
 * pending (it has been held back long enough). `pendingSince` is when the pending
 * timer's first wish came, null when none is pending.
 */
export function reportPlan(pendingSince: number | null, now: number): 'start' | 'restart' | 'keep' {
  if (pendingSince === null) return 'start';
  return now - pendingSince > REPORT_MAX_HOLD_MS ? 'keep' : 'restart';
}

export class Link {
  private state: Connection = 'connecting';
  private stopped = false;
  private socket: Socket | undefined;
  private recovering: NodeJS.Timeout | undefined;
  private recoveryDelay = 0;
  private reportTimer: NodeJS.Timeout | undefined;
  private reportWanted = 0;
  /** The socket's own retry's backoff level, ms (0: the next pause is the first, 0.5-1 s; reset on connect). */
  private retryDelay = 0;
  /** When the socket's current handshake went out (see watchHandshake). */
  private handshakeAt = 0;
  /** The socket's own retry after a refusal or a cut handshake (see connectSocket). */
  private socketRetry: NodeJS.Timeout | undefined;
  /** The link itself is ending the socket's attempt (restartSocket). */
  private aborting = false;

  constructor(private readonly deps: LinkDeps) {}

  get connection(): Connection {
    return this.state;
  }

  /** Stops the probes, the pending report and the socket. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.recovering);
    clearTimeout(this.reportTimer);
    clearTimeout(this.socketRetry);
    this.socket?.disconnect();
  }

  /** Central answered something. */
  markOnline(): void {
    // An answer that arrives after stop() changes nothing: the store may be closed.
    if (this.stopped) return;
    const t = linkAfter(this.state, true);
    if (!t.changed) return;
    this.state = t.next;
    clearTimeout(this.recovering);
    this.recovering = undefined;
    this.recoveryDelay = 0;
    this.deps.log.info('central reachable: online');
    this.deps.events.online(t.cameBack);
    this.socketNow();
  }

  /** Central answered over HTTP: the socket, if down, connects now (socketOnReachable). */
  private socketNow(): void {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    // Not closed: a handshake is on its way (the manager opening, or open with the
    // socket's CONNECT not answered yet); closed: waiting out a pause, or given up.
    const handshaking = socket.io._readyState !== 'closed';
    if (socketOnReachable({ connected: socket.connected, handshaking, handshakeMs: Date.now() - this.handshakeAt }) === 'nothing') return;
    this.deps.log.debug({ handshaking }, 'central reachable: socket connects now');
    this.restartSocket();
  }

  /** Drops the socket's attempt in progress (or its wait for the next) and starts a handshake now. */
  private restartSocket(): void {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    // disconnect() ends the manager's attempt (whose close is no cut handshake), its
    // connect timeout and its reconnect timer.
    this.aborting = true;
    try {
      socket.disconnect();
    } finally {
      this.aborting = false;
    }
    clearTimeout(this.socketRetry);
    this.socketRetry = undefined;
    socket.connect();
    this.watchHandshake();
  }

  /**
   * Watches the handshake the socket's manager has just begun. socket.io-client listens
   * only for an error while a handshake is on its way: a connection cut right after the
   * upgrade (a reset, with no error from the websocket) leaves it waiting out its 20 s
   * connect timeout. Such a close ends the attempt here instead, and the socket tries
   * again after its backoff.
   */
  private watchHandshake(): void {
    const socket = this.socket;
    const manager = socket?.io;
    const engine = manager?.engine;
    if (!socket || !manager || !engine || manager._readyState !== 'opening') return;
    this.handshakeAt = Date.now();
    engine.once('close', (reason: string) => {
      if (this.stopped || this.aborting || manager.engine !== engine || manager._readyState !== 'opening') return;
      this.deps.log.debug({ reason }, 'socket handshake cut');
      socket.disconnect();
      this.socketRetryLater();
    });
  }

  /** Central could not be reached: offline, and probing until it answers. */
  markOffline(reason: string): void {
    if (this.stopped) return;
    const t = linkAfter(this.state, false);
    if (t.changed) {
      this.state = t.next;
      this.deps.log.warn({ reason }, 'central unreachable: offline; sales keep being captured');
      this.deps.events.offline(reason);
    }
    this.scheduleRecovery();
  }

  async heartbeat(): Promise<boolean> {
    const { client, config, log } = this.deps;
    try {
      const r = this.deps.report();
      await client.heartbeat({
        terminalId: this.deps.terminalId(),
        // A heartbeat that arrives is from a terminal that is online; syncing if a pass runs.
        status: r.syncing ? 'SYNCING' : 'ONLINE',
        appVersion: config.appVersion,
        outbox: r.outbox,
        reportedAt: new Date().toISOString(),
        ...(r.lastSyncAt ? { lastSyncAt: r.lastSyncAt } : {}),
        ...(r.oldestPendingAt !== undefined ? { oldestPendingAt: r.oldestPendingAt } : {}),
        ...(r.unsyncedSales ? { unsyncedSales: r.unsyncedSales } : {}),
        ...(r.cursors ? { cursors: r.cursors } : {}),
        ...(r.schemaVersion ? { schemaVersion: r.schemaVersion } : {}),
        ...(r.recentRuns ? { recentRuns: r.recentRuns } : {}),
      });
      this.markOnline();
      return true;
    } catch (err) {
      if (failureOf(err) === 'unreachable') this.markOffline(err instanceof Error ? err.message : String(err));
      else log.warn({ err: err instanceof Error ? err.message : err }, 'heartbeat refused');
      return false;
    }
  }

  /**
   * A report of the outbox soon after pushes changed it, so central's status shows
   * what the till holds now, not what it held at the last heartbeat (the heartbeat
   * timer stays the safety net). Debounced: after the last push of a burst (a sale,
   * then its lower tiers a second later), so the report sees them all gone; never held
   * back more than 2 s.
   */
  reportSoon(): void {
    if (this.stopped) return;
    const now = Date.now();
    const plan = reportPlan(this.reportTimer ? this.reportWanted : null, now);
    if (plan === 'keep') return;
    if (plan === 'restart') clearTimeout(this.reportTimer);
    else this.reportWanted = now;
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      if (!this.stopped && this.state !== 'offline') void this.heartbeat();
    }, REPORT_DEBOUNCE_MS);
    this.reportTimer.unref();
  }

  /** While offline, probe central with growing pauses (with jitter) until it answers. */
  private scheduleRecovery(): void {
    if (this.recovering || this.stopped) return;
    const b = nextBackoff(this.recoveryDelay, this.deps.config.retryDelay, this.deps.config.reconnectMaxDelayMs, Math.random());
    this.recoveryDelay = b.level;
    this.recovering = setTimeout(() => {
      this.recovering = undefined;
      void this.heartbeat().then((ok) => {
        if (!ok && this.state === 'offline') this.scheduleRecovery();
      });
    }, b.delay);
    this.recovering.unref();
  }

  /**
   * The socket tries again after a pause that grows (with jitter) to
   * `reconnectMaxDelayMs`: where socket.io-client would not by itself (a refused
   * handshake, a deliberate disconnect by the server) or has given up (a cut handshake).
   */
  private socketRetryLater(): void {
    if (this.stopped || this.socketRetry) return;
    const b = nextBackoff(this.retryDelay, 1000, this.deps.config.reconnectMaxDelayMs, Math.random());
    this.retryDelay = b.level;
    this.socketRetry = setTimeout(() => {
      this.socketRetry = undefined;
      const socket = this.socket;
      if (this.stopped || !socket || socket.connected) return;
      socket.connect();
      this.watchHandshake();
    }, b.delay);
    this.socketRetry.unref();
  }

  /** Listens on socket.io for central's triggers and change hints. */
  connectSocket(): void {
    const { config, log, events } = this.deps;
    const socket = io(config.centralUrl, {
      auth: { token: config.apiKey },
      transports: ['websocket'],
      reconnectionDelay: 1000,
      reconnectionDelayMax: config.reconnectMaxDelayMs,
      randomizationFactor: 0.5,
    });
    this.socket = socket;
    this.watchHandshake();
    // The manager begins each of its own reconnects right after announcing it.
    socket.io.on('reconnect_attempt', () => queueMicrotask(() => this.watchHandshake()));
    let connectedBefore = false;
    socket.on('connect', () => {
      this.retryDelay = 0;
      socket.emit(SOCKET_EVENTS.register, { terminalId: this.deps.terminalId() }, (reply: SocketReply) => {
        if (!reply.ok) log.error({ error: reply.error }, 'socket registration refused');
      });
      log.info({ reconnect: connectedBefore }, 'socket connected');
      this.markOnline();
      // After every reconnect, a full checkpoint pass: triggers are hints, not a log.
      if (connectedBefore) events.reconnected();
      connectedBefore = true;
    });
    socket.on('disconnect', (reason) => {
      log.warn({ reason }, 'socket disconnected');
      if (needsReconnect({ disconnected: reason })) this.socketRetryLater();
    });
    socket.on('connect_error', (err) => {
      log.debug({ err: err.message }, 'socket connect failed');
      if (needsReconnect({ connectFailed: { active: socket.active } })) this.socketRetryLater();
    });
    socket.on(SOCKET_EVENTS.changes, (payload: unknown) => {
      const h = ChangesHint.safeParse(payload);
      if (!h.success || h.data.terminalId !== this.deps.terminalId()) return;
      events.hinted(h.data.entityTypes);
    });
    socket.on(SOCKET_EVENTS.trigger, (payload: unknown) => {
      const t = SyncTrigger.safeParse(payload);
      if (!t.success || t.data.terminalId !== this.deps.terminalId()) return;
      void events
        .trigger(t.data)
        .then(() => {
          socket.emit(SOCKET_EVENTS.ack, { terminalId: this.deps.terminalId(), type: t.data.type, ...(t.data.triggerId ? { triggerId: t.data.triggerId } : {}) });
        })
        .catch(() => undefined);
    });
  }
}
