/**
 * TILLSYNC_TRUST_PROXY: which proxies' X-Forwarded-For central believes. Off by
 * default (a client could otherwise write any address into its own requests); when
 * set, the request log's remoteAddress is the client's address from the header.
 * Parsed and validated in config.ts; proven on central as a process, by its log.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, fastifyTrustProxy } from '../../src/server/config.js';
import { killAll, startCentralProcess, waitUntil, type CentralProcess } from '../helpers/processes.js';

describe('TILLSYNC_TRUST_PROXY (configuration)', () => {
  it('is false by default; takes true/false, a hop count, or comma-separated addresses and CIDRs', () => {
    expect(configFromEnv({}).trustProxy).toBe(false);
    expect(configFromEnv({ TILLSYNC_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(configFromEnv({ TILLSYNC_TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    expect(configFromEnv({ TILLSYNC_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(configFromEnv({ TILLSYNC_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1, fd00::/8' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
  });

  it('refuses anything else, naming the variable', () => {
    for (const bad of ['maybe', '10.0.0.0/33', '300.1.1.1', '10.0.0.1,', '::1/129', '99']) {
      expect(() => configFromEnv({ TILLSYNC_TRUST_PROXY: bad }), bad).toThrow(ConfigError);
      expect(() => configFromEnv({ TILLSYNC_TRUST_PROXY: bad }), bad).toThrow(/TILLSYNC_TRUST_PROXY/);
    }
  });

  it('a hop count trusts that many proxies nearest to central', () => {
    const trust = fastifyTrustProxy(2);
    expect(typeof trust).toBe('function');
    if (typeof trust !== 'function') return;
    expect([0, 1, 2].map((hop) => trust('10.0.0.1', hop))).toEqual([true, true, false]);
  });
});

/** The remoteAddress of central's "incoming request" log line for `path` (debug level logs every request). */
function loggedAddress(c: CentralProcess, path: string): string | undefined {
  for (const line of c.proc.stdout().split('\n')) {
    if (!line.includes('"incoming request"')) continue;
    const entry = JSON.parse(line) as { req?: { url?: string; remoteAddress?: string } };
    if (entry.req?.url === path) return entry.req.remoteAddress;
  }
  return undefined;
}

describe('the client address central logs', () => {
  afterAll(killAll);

  it('is the peer without TILLSYNC_TRUST_PROXY, and the X-Forwarded-For client behind a trusted proxy', { timeout: 120_000 }, async () => {
    const plain = await startCentralProcess({ env: { LOG_LEVEL: 'debug' } });
    const behind = await startCentralProcess({ env: { LOG_LEVEL: 'debug', TILLSYNC_TRUST_PROXY: '127.0.0.1' } });
    for (const c of [plain, behind]) {
      const r = await fetch(`${c.url}/healthz?probe=forwarded`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      expect(r.status).toBe(200);
    }
    const path = '/healthz?probe=forwarded';
    expect(await waitUntil('the plain log line', () => loggedAddress(plain, path), { diagnose: () => plain.proc.tail() })).toBe('127.0.0.1');
    expect(await waitUntil('the trusting log line', () => loggedAddress(behind, path), { diagnose: () => behind.proc.tail() })).toBe('203.0.113.7');
    expect((await plain.proc.stop()).code).toBe(0);
    expect((await behind.proc.stop()).code).toBe(0);
  });
});
