/**
 * An engine closed while a call to central is on its way: the answer (here: central
 * unreachable) arrives after the database is closed and changes nothing, and nothing
 * throws. Before, the late failure marked the engine offline and wrote the mode to the
 * closed file, an unhandled rejection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/main/sync/engine.js';
import { DEFAULT_SYNC_CONFIG } from '../../src/main/sync/sync-config.js';
import { testLogger } from '../helpers/engine.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('closing an engine while central is being called', () => {
  it('a heartbeat that fails after close changes nothing and does not throw', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-stop-'));
    dirs.push(dir);
    const port = await closedPort();
    const engine = createEngine(
      {
        databasePath: join(dir, 'pos.db'),
        terminalId: 'till-stop',
        create: true,
        sync: { ...DEFAULT_SYNC_CONFIG, centralUrl: `http://127.0.0.1:${port}`, apiKey: 'k'.repeat(16), realtime: false },
      },
      testLogger(),
    );
    const statuses: string[] = [];
    engine.service.on('statusChanged', (s) => statuses.push(s.connection));
    const beat = engine.service.heartbeat();
    await engine.close();
    await expect(beat).resolves.toBe(false);
    expect(statuses.filter((c) => c === 'offline')).toEqual([]);
  });
});
