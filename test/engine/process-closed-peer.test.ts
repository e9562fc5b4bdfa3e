/**
 * The agent against an address that accepts every connection and closes it at once (a
 * load balancer with no backend, a central going down): it keeps running offline, as
 * for any unreachable central, and never ends by itself. Node 20's fetch can leave such
 * a request unsettled; with its timeout on an unref'd timer nothing held the process,
 * which ended at once with exit code 0 (found by the fault campaign).
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAll, newTerminalDb, startAgent, tempDir } from '../helpers/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: ReturnType<typeof tempDir> | undefined;
let closer: Server | undefined;
afterEach(killAll);
afterAll(async () => {
  dir?.remove();
  await new Promise<void>((res) => (closer ? closer.close(() => res()) : res()));
});

describe('a peer that closes every connection', () => {
  it('the agent keeps running offline (it does not exit by itself), and stops cleanly on SIGTERM', async () => {
    dir = tempDir('tillsync-closed-');
    closer = createServer((s) => s.destroy());
    await new Promise<void>((res) => (closer as Server).listen(0, '127.0.0.1', res));
    const port = ((closer as Server).address() as AddressInfo).port;
    const databasePath = await newTerminalDb(join(dir.path, 'pos.db'));
    const agents = [0, 1].map(() => undefined); // the old exit came in most starts, not all
    for (const _ of agents) {
      const agent = startAgent({ databasePath, centralUrl: `http://127.0.0.1:${port}`, apiKey: 'tsk_closedpeerkey', terminalId: 'closed-1' });
      await started(agent);
      await sleep(7_000); // past the start-up key check's 5 s
      expect(agent.exit, agent.tail()).toBeUndefined();
      const exit = await agent.stop('SIGTERM');
      expect(exit.code, agent.tail()).toBe(0);
    }
  }, 60_000);

  it('a SIGTERM during start-up (the key check waiting on the peer) stops it cleanly too', async () => {
    dir ??= tempDir('tillsync-closed-');
    if (!closer) {
      closer = createServer((s) => s.destroy());
      await new Promise<void>((res) => (closer as Server).listen(0, '127.0.0.1', res));
    }
    const port = ((closer as Server).address() as AddressInfo).port;
    const databasePath = await newTerminalDb(join(dir.path, 'pos-startup.db'));
    const agent = startAgent({ databasePath, centralUrl: `http://127.0.0.1:${port}`, apiKey: 'tsk_closedpeerkey', terminalId: 'closed-2' });
    await started(agent);
    const exit = await agent.stop('SIGTERM');
    expect(exit, agent.tail()).toEqual({ code: 0, signal: null });
    expect(agent.stdout()).toContain('agent stopped');
  }, 60_000);
});

/** Until the agent says it is starting (its signal handlers are in place from then on). */
async function started(agent: ReturnType<typeof startAgent>): Promise<void> {
  for (let i = 0; i < 300 && !agent.stdout().includes('agent starting'); i++) {
    if (agent.exit) throw new Error(`the agent ended before it started: ${agent.tail()}`);
    await sleep(100);
  }
  if (!agent.stdout().includes('agent starting')) throw new Error(`the agent did not start in 30 s: ${agent.tail()}`);
}
