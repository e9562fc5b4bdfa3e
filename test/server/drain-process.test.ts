/**
 * What central's process does on SIGTERM when the drain cannot finish: a request still
 * under way (here one whose body never finishes arriving) holds the drain open until
 * TILLSYNC_DRAIN_TIMEOUT_MS, then central cuts it and exits 1; a second SIGTERM or
 * SIGINT during the drain exits at once (1). An idle instance drains and exits 0.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, startCentralProcess, waitUntil, type CentralProcess } from '../helpers/processes.js';

/**
 * A request whose headers arrived and whose body never ends: central answers it (401,
 * no key) without reading the body, but the connection stays under way until the body
 * it announced has arrived.
 */
async function requestUnderWay(c: CentralProcess): Promise<Socket> {
  const socket = connect(c.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write('POST /api/sync/heartbeat HTTP/1.1\r\nHost: central\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"terminalId":');
  return socket;
}

describe('SIGTERM on central as a process', () => {
  afterAll(killAll);

  it('idle: drains and exits 0', { timeout: 60_000 }, async () => {
    const c = await startCentralProcess({});
    expect(await c.proc.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(c.proc.stdout()).toMatch(/"msg":"drained; exiting"/);
  });

  it('a request that does not finish holds the drain until TILLSYNC_DRAIN_TIMEOUT_MS, then exits 1', { timeout: 60_000 }, async () => {
    const c = await startCentralProcess({ env: { TILLSYNC_DRAIN_TIMEOUT_MS: '1500' } });
    const held = await requestUnderWay(c);
    // Central has the request: its liveness answers on another connection.
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    c.proc.child.kill('SIGTERM');
    const exit = await c.proc.exited;
    expect(exit, c.proc.tail()).toEqual({ code: 1, signal: null });
    expect(c.proc.stdout()).toMatch(/"msg":"drain timed out: closing the connections still open"/);
    held.destroy();
  });

  it('a second signal during the drain exits at once (1)', { timeout: 60_000 }, async () => {
    const c = await startCentralProcess({ env: { TILLSYNC_DRAIN_TIMEOUT_MS: '60000' } });
    const held = await requestUnderWay(c);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    c.proc.child.kill('SIGTERM');
    await waitUntil('the drain to begin', () => c.proc.stdout().includes('"msg":"draining: no new connections; answering what is under way"'), {
      diagnose: () => c.proc.tail(),
    });
    c.proc.child.kill('SIGINT');
    const exit = await c.proc.exited;
    expect(exit, c.proc.tail()).toEqual({ code: 1, signal: null });
    expect(c.proc.stdout()).toMatch(/"msg":"second signal during the drain: exiting now"/);
    held.destroy();
  });
});
