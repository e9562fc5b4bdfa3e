/** configFromEnv: defaults, precedence and errors that name the environment variable to fix. */
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv } from '../../src/server/config.js';

/** The ConfigError configFromEnv throws for `env` (fails the test if it does not throw one). */
function errorFor(env: NodeJS.ProcessEnv): ConfigError {
  try {
    configFromEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`configFromEnv accepted ${JSON.stringify(env)}`);
}

describe('configFromEnv', () => {
  it('defaults: port 4000, host 127.0.0.1, PGlite in ./data/central, no admin token', () => {
    const c = configFromEnv({});
    expect(c.port).toBe(4000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.dataDir).toBe('./data/central');
    expect(c.adminToken).toBeUndefined();
    expect(c.heartbeatIntervalSeconds).toBe(30);
    expect(c.bodyLimitBytes).toBe(10 * 1024 * 1024);
    expect(c.autoSyncOnStart).toBe(true);
    expect(c.autoSyncDelayMs).toBe(2000);
    expect(c.logLevel).toBe('info');
  });

  it('fleet defaults: a pool of 20 PostgreSQL connections, terminal keys trusted from memory for 5 s', () => {
    const c = configFromEnv({});
    expect(c.pgPoolSize).toBe(20);
    expect(c.authCacheTtlMs).toBe(5000);
  });

  it('does not read process.env when given an environment', () => {
    const saved = process.env.PORT;
    process.env.PORT = 'not-a-port';
    try {
      expect(configFromEnv({}).port).toBe(4000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('empty or blank variables count as unset', () => {
    const c = configFromEnv({ PORT: '', HOST: '  ', DATABASE_URL: '', POSTGRES_URL_REMOTE: ' ', TILLSYNC_DATA_DIR: '', TILLSYNC_ADMIN_TOKEN: '' });
    expect(c).toMatchObject({ port: 4000, host: '127.0.0.1', dataDir: './data/central' });
    expect(c.databaseUrl).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
  });

  it('reads every setting from its variable', () => {
    const c = configFromEnv({
      PORT: '8080',
      HOST: '0.0.0.0',
      TILLSYNC_DATA_DIR: '/var/lib/tillsync',
      TILLSYNC_ADMIN_TOKEN: 'a-long-enough-admin-token',
      TILLSYNC_BODY_LIMIT: '4096',
      TILLSYNC_HEARTBEAT_INTERVAL: '15',
      TILLSYNC_MAX_CLOCK_DRIFT_MS: '5000',
      TILLSYNC_AUTO_SYNC_DELAY_MS: '0',
      TILLSYNC_TRIGGER_TTL: '60',
      TILLSYNC_PG_POOL: '40',
      TILLSYNC_AUTH_CACHE_TTL_MS: '1500',
      LOG_LEVEL: 'debug',
    });
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      dataDir: '/var/lib/tillsync',
      adminToken: 'a-long-enough-admin-token',
      bodyLimitBytes: 4096,
      heartbeatIntervalSeconds: 15,
      maxClockDriftMs: 5000,
      autoSyncDelayMs: 0,
      triggerTtlSeconds: 60,
      pgPoolSize: 40,
      authCacheTtlMs: 1500,
      logLevel: 'debug',
    });
    expect(configFromEnv({ PORT: '0' }).port).toBe(0);
    expect(configFromEnv({ TILLSYNC_AUTH_CACHE_TTL_MS: '0' }).authCacheTtlMs).toBe(0);
  });

  it.each([
    ['0', false],
    ['false', false],
    ['OFF', false],
    ['no', false],
    ['1', true],
    ['true', true],
    ['yes', true],
  ])('TILLSYNC_AUTO_SYNC=%s -> %s', (value, expected) => {
    expect(configFromEnv({ TILLSYNC_AUTO_SYNC: value }).autoSyncOnStart).toBe(expected);
  });

  it('DATABASE_URL selects PostgreSQL', () => {
    expect(configFromEnv({ DATABASE_URL: 'postgres://u@db:5432/pos' }).databaseUrl).toBe('postgres://u@db:5432/pos');
    expect(configFromEnv({ DATABASE_URL: 'postgresql://u@db/pos' }).databaseUrl).toBe('postgresql://u@db/pos');
  });

  it('POSTGRES_URL_REMOTE (the seed name) wins over DATABASE_URL', () => {
    const c = configFromEnv({ POSTGRES_URL_REMOTE: 'postgresql://remote/pos', DATABASE_URL: 'postgres://local/pos' });
    expect(c.databaseUrl).toBe('postgresql://remote/pos');
    expect(configFromEnv({ POSTGRES_URL_REMOTE: 'postgresql://remote/pos' }).databaseUrl).toBe('postgresql://remote/pos');
  });

  it.each(['abc', '70000', '-1', '80.5', '65536'])('a bad PORT (%s) is a ConfigError naming PORT', (port) => {
    const err = errorFor({ PORT: port });
    expect(err.name).toBe('ConfigError');
    expect(err.message).toMatch(/\bPORT\b/);
    expect(err.message).toContain('invalid configuration');
  });

  it.each([
    [{ DATABASE_URL: 'mysql://db/pos' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'db.example.com:5432' }, 'DATABASE_URL'],
    [{ POSTGRES_URL_REMOTE: 'http://db/pos' }, 'POSTGRES_URL_REMOTE'],
    // The winning variable is the one checked: a bad POSTGRES_URL_REMOTE is not excused by a good DATABASE_URL.
    [{ POSTGRES_URL_REMOTE: 'sqlite://pos.db', DATABASE_URL: 'postgres://ok/pos' }, 'POSTGRES_URL_REMOTE'],
  ])('a bad database URL %j is a ConfigError naming %s', (env, name) => {
    const err = errorFor(env);
    expect(err.message).toContain(name);
    expect(err.message).toMatch(/postgres/);
  });

  it('a short admin token is a ConfigError naming TILLSYNC_ADMIN_TOKEN', () => {
    const err = errorFor({ TILLSYNC_ADMIN_TOKEN: 'short' });
    expect(err.message).toContain('TILLSYNC_ADMIN_TOKEN');
    expect(err.message).toContain('16');
    expect(configFromEnv({ TILLSYNC_ADMIN_TOKEN: 'x'.repeat(16) }).adminToken).toBe('x'.repeat(16));
  });

  it('a ConfigError does not echo the secret it refused', () => {
    const err = errorFor({ TILLSYNC_ADMIN_TOKEN: 'tiny-secret' });
    expect(err.message).not.toContain('tiny-secret');
    const url = errorFor({ DATABASE_URL: 'mysql://admin:hunter2@db/pos' });
    expect(url.message).not.toContain('hunter2');
  });

  it.each([
    ['TILLSYNC_BODY_LIMIT', '0'],
    ['TILLSYNC_BODY_LIMIT', 'ten'],
    ['TILLSYNC_HEARTBEAT_INTERVAL', '-5'],
    ['TILLSYNC_MAX_CLOCK_DRIFT_MS', 'x'],
    ['TILLSYNC_AUTO_SYNC_DELAY_MS', '-1'],
    ['TILLSYNC_TRIGGER_TTL', '1.5'],
    ['TILLSYNC_PG_POOL', '0'],
    ['TILLSYNC_PG_POOL', 'many'],
    ['TILLSYNC_AUTH_CACHE_TTL_MS', '-1'],
    ['TILLSYNC_AUTH_CACHE_TTL_MS', '600000'],
    ['LOG_LEVEL', 'verbose'],
  ])('a bad %s (%s) is a ConfigError naming it', (name, value) => {
    expect(errorFor({ [name]: value }).message).toContain(name);
  });

  it('several bad variables are all named in one error', () => {
    const err = errorFor({ PORT: 'abc', TILLSYNC_ADMIN_TOKEN: 'short', LOG_LEVEL: 'loud' });
    expect(err.message).toMatch(/\bPORT\b/);
    expect(err.message).toContain('TILLSYNC_ADMIN_TOKEN');
    expect(err.message).toContain('LOG_LEVEL');
  });
});
