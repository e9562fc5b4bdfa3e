/**
 * socket.io-client helpers for tests against a started central (see central.ts):
 * terminal sockets (websocket transport, no reconnection), registering, and the
 * sync:trigger events a socket received.
 *
 * Every socket opened here (or passed to trackSocket) is remembered until
 * closeSockets(), which a test file calls after each test.
 */
import { io, type Socket } from 'socket.io-client';
import { expect, vi } from 'vitest';
import type { SocketReply, SyncTrigger } from '../../src/shared/protocol.js';
import type { ProvisionedTerminal } from './central.js';

/** How long, and how often, vi.waitFor polls for what a socket should see. */
export const WAIT = { timeout: 10_000, interval: 20 } as const;

const sockets: Socket[] = [];

/** Remembers a socket opened elsewhere, so closeSockets() closes it too. */
export function trackSocket(socket: Socket): Socket {
  sockets.push(socket);
  return socket;
}

/** Disconnects every socket opened (or tracked) since the last call. */
export function closeSockets(): void {
  for (const s of sockets.splice(0)) s.disconnect();
}

export interface Conn {
  readonly socket: Socket;
  readonly terminalId: string;
  /** Every sync:trigger this socket received, in order. */
  readonly triggers: SyncTrigger[];
}

/** Opens a socket with `token` as auth.token (none when undefined), recording its sync:trigger events. */
export function openSocket(url: string, token: string | undefined): { socket: Socket; triggers: SyncTrigger[] } {
  const socket = io(url, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
  });
  trackSocket(socket);
  const triggers: SyncTrigger[] = [];
  socket.on('sync:trigger', (t: SyncTrigger) => triggers.push(t));
  return { socket, triggers };
}

export function whenConnected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
}

/** Resolves with the connect_error; rejects (with `message`) if the socket connects instead. */
export function whenRefused(socket: Socket, message = 'socket connected but should have been refused'): Promise<Error> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error(message)));
    socket.once('connect_error', (err) => resolve(err));
  });
}

/** A connected socket with `t`'s key, not registered yet. */
export async function connect(url: string, t: ProvisionedTerminal): Promise<Conn> {
  const { socket, triggers } = openSocket(url, t.apiKey);
  await whenConnected(socket);
  return { socket, terminalId: t.terminalId, triggers };
}

export function emitWithAck(socket: Socket, event: string, payload: unknown): Promise<SocketReply> {
  return socket.timeout(10_000).emitWithAck(event, payload) as Promise<SocketReply>;
}

export function register(conn: Conn, terminalId: string = conn.terminalId): Promise<SocketReply> {
  return emitWithAck(conn.socket, 'terminal:register', { terminalId });
}

/** A connected socket with `t`'s key, registered as `t` (the register must answer { ok: true }). */
export async function connectAndRegister(url: string, t: ProvisionedTerminal): Promise<Conn> {
  const conn = await connect(url, t);
  expect(await register(conn)).toEqual({ ok: true });
  return conn;
}

/**
 * Waits until the socket has received at least `n` distinct triggers; returns them, first
 * delivery of each. A trigger asked just before a terminal registers may arrive twice
 * (live, and again as pending on register); triggers are hints, so that is allowed.
 */
export async function received(conn: Conn, n: number): Promise<SyncTrigger[]> {
  await vi.waitFor(() => {
    const got = distinct(conn.triggers).length;
    if (got < n) throw new Error(`${conn.terminalId}: ${got} of ${n} triggers so far`);
  }, WAIT);
  return distinct(conn.triggers);
}

/** The triggers of `list`, first delivery of each triggerId, in order. */
export function distinct(list: readonly SyncTrigger[]): SyncTrigger[] {
  const seen = new Set<string | undefined>();
  const out: SyncTrigger[] = [];
  for (const t of list) {
    if (seen.has(t.triggerId)) continue;
    seen.add(t.triggerId);
    out.push(t);
  }
  return out;
}

export function closeSocket(conn: Conn): void {
  conn.socket.disconnect();
}
