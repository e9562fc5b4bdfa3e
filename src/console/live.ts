/**
 * The console's live link: socket.io's /console namespace with the admin token. Central
 * says which tills reported (`fleet:changed`); the views read again what they show. No
 * polling loop: after a reconnect (the link lost meanwhile) everything is read again.
 */
import { io, type Socket } from 'socket.io-client';
import { FleetChanged, SOCKET_EVENTS } from '../shared/protocol.js';

export type LinkState = 'connecting' | 'live' | 'lost' | 'refused';

export interface LiveLink {
  /** Called with each change (and `{ all: true }` after a reconnect); returns how to stop listening. */
  onChange(listener: (news: FleetChanged) => void): () => void;
  onState(listener: (state: LinkState, detail: string | null) => void): () => void;
  /** Connects (again, after stop). */
  start(): void;
  stop(): void;
}

/** Does this news concern this till? */
export const concerns = (news: FleetChanged, terminalId: string) => news.all || news.terminalIds.includes(terminalId);

export function connectLive(token: string, origin?: string): LiveLink {
  const changes = new Set<(news: FleetChanged) => void>();
  const states = new Set<(state: LinkState, detail: string | null) => void>();
  const tell = (s: LinkState, detail: string | null) => states.forEach((l) => l(s, detail));
  const socket: Socket = io(`${origin ?? ''}/console`, { auth: { token }, transports: ['websocket'], autoConnect: false });
  let connectedBefore = false;
  socket.on('connect', () => {
    tell('live', null);
    // Whatever changed while the link was down was not announced: read everything again.
    if (connectedBefore) changes.forEach((l) => l({ terminalIds: [], all: true }));
    connectedBefore = true;
  });
  socket.on('disconnect', () => tell('lost', null));
  socket.on('connect_error', (err: Error) => {
    // A refused handshake (a wrong or rotated token) is not retried by socket.io-client.
    const refused = !socket.active;
    tell(refused ? 'refused' : 'lost', err.message);
  });
  socket.on(SOCKET_EVENTS.fleetChanged, (payload: unknown) => {
    const news = FleetChanged.safeParse(payload);
    // Unreadable news still means something changed.
    changes.forEach((l) => l(news.success ? news.data : { terminalIds: [], all: true }));
  });
  return {
    onChange(l) {
      changes.add(l);
      return () => changes.delete(l);
    },
    onState(l) {
      states.add(l);
      return () => states.delete(l);
    },
    start: () => {
      socket.connect();
    },
    stop: () => {
      socket.disconnect();
    },
  };
}
