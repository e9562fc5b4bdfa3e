/**
 * systemd units for central and the agent (src/agent/service-unit.ts): the pure
 * function's settings and refusals, the shipped files in deploy/systemd equal to its
 * output, the environment examples naming exactly the variables the processes read,
 * `systemd-analyze verify` on the shipped units and on `tillsync service-unit`'s output
 * (with a control that the check can fail), and the command's argument errors.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { packageRoot } from '../../src/agent/commands/service-unit.js';
import {
  CENTRAL_DRAIN_SECONDS,
  ENTRY_POINTS,
  SERVICE_DEFAULTS,
  SERVICE_ROLES,
  ServiceUnitError,
  serviceUnit,
  type ServiceRole,
  type ServiceUnitInput,
} from '../../src/agent/service-unit.js';
import { agentConfig, SETTINGS } from '../../src/main/engine-settings.js';
import { configFromEnv } from '../../src/server/config.js';
import { cleanEnv, ROOT, runTillsync } from '../helpers/processes.js';
import { exposure, verifiedClean, verifyUnit, type VerifyResult } from '../helpers/systemd.js';

const DEPLOY = join(ROOT, 'deploy', 'systemd');
const SHIPPED = { installDir: SERVICE_DEFAULTS.installDir, nodePath: SERVICE_DEFAULTS.nodePath } as const;

/** The unit's settings (comments and section headers left out), in order. */
function directives(unit: string): [string, string][] {
  return unit
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)];
    });
}
const values = (unit: string, key: string) => directives(unit).filter(([k]) => k === key).map(([, v]) => v);
const one = (unit: string, key: string): string => {
  const v = values(unit, key);
  expect(v, `${key}= once`).toHaveLength(1);
  return v[0] ?? '';
};

/** Environment= of a unit as variables (what systemd sets before the environment file). */
function unitEnvironment(unit: string): Record<string, string> {
  return Object.fromEntries(values(unit, 'Environment').map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
}

const unitFor = (role: ServiceRole, extra: Partial<ServiceUnitInput> = {}) => serviceUnit({ role, ...SHIPPED, ...extra });

function refusal(input: unknown): string {
  try {
    serviceUnit(input as ServiceUnitInput);
  } catch (err) {
    expect(err).toBeInstanceOf(ServiceUnitError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(input)}`);
}

const showVerify = (r: VerifyResult) => `exit ${r.code}\n${r.output}`;

describe('serviceUnit (pure)', () => {
  const COMMON: [string, string][] = [
    ['Wants', 'network-online.target'],
    ['After', 'network-online.target'],
    ['Type', 'exec'],
    ['User', 'tillsync'],
    ['Group', 'tillsync'],
    ['Restart', 'on-failure'],
    ['RestartSec', '5'],
    ['RestartPreventExitStatus', '2'],
    ['KillSignal', 'SIGTERM'],
    ['UMask', '0077'],
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['ProtectKernelTunables', 'yes'],
    ['ProtectKernelModules', 'yes'],
    ['ProtectControlGroups', 'yes'],
    ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['RestrictNamespaces', 'yes'],
    ['LockPersonality', 'yes'],
    ['SystemCallArchitectures', 'native'],
    ['CapabilityBoundingSet', ''],
    ['WantedBy', 'multi-user.target'],
  ];

  for (const role of SERVICE_ROLES) {
    it(`${role}: every hardening and service setting is there`, () => {
      const unit = unitFor(role);
      const all = directives(unit);
      for (const [k, v] of COMMON) expect(all, `${k}=${v}`).toContainEqual([k, v]);
      expect(one(unit, 'Description')).toMatch(/TillSync/);
      expect(one(unit, 'EnvironmentFile')).toBe(`/etc/tillsync/${role}.env`);
      expect(one(unit, 'StateDirectory')).toBe(`tillsync-${role}`);
      // V8's JIT needs W+X memory: the key must not be set (the comment says why), nor a syscall filter.
      expect(values(unit, 'MemoryDenyWriteExecute')).toEqual([]);
      expect(unit).toMatch(/^# MemoryDenyWriteExecute= is deliberately not set: V8's JIT/m);
      expect(values(unit, 'SystemCallFilter')).toEqual([]);
      // Every setting is a key of its own; nothing is repeated by mistake but After=.
      const keys = all.map(([k]) => k).filter((k) => k !== 'After');
      expect(new Set(keys).size).toBe(keys.length);
    });

    it(`${role}: ExecStart, WorkingDirectory and EnvironmentFile are absolute; the process writes in its state directory`, () => {
      const unit = unitFor(role, { installDir: '/srv/till-sync', nodePath: '/usr/local/bin/node' });
      const exec = one(unit, 'ExecStart').split(' ');
      expect(exec.slice(0, 2)).toEqual(['/usr/local/bin/node', `/srv/till-sync/${ENTRY_POINTS[role].script}`]);
      expect(exec.slice(2)).toEqual([...ENTRY_POINTS[role].args]);
      for (const p of [...exec.slice(0, 2), one(unit, 'WorkingDirectory'), one(unit, 'EnvironmentFile')]) expect(p.startsWith('/'), p).toBe(true);
      expect(one(unit, 'WorkingDirectory')).toBe('/srv/till-sync');
      const env = unitEnvironment(unit);
      if (role === 'central') expect(env).toEqual({ TILLSYNC_DATA_DIR: '/var/lib/tillsync-central' });
      else expect(env).toEqual({ DATABASE_URL: 'file:/var/lib/tillsync-agent/pos.db' });
    });
  }

  it('the entry points are the production build of real sources (build/ mirrors src/)', () => {
    for (const role of SERVICE_ROLES) {
      const src = ENTRY_POINTS[role].script.replace(/^build\//, 'src/').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, src)), src).toBe(true);
    }
  });

  it('central: waits for a local PostgreSQL without depending on it, files for every terminal, and a stop timeout longer than the drain', () => {
    const unit = unitFor('central');
    expect(values(unit, 'After')).toContain('postgresql.service');
    for (const key of ['Requires', 'Wants', 'BindsTo', 'Requisite']) expect(values(unit, key).join(' ')).not.toMatch(/postgresql/);
    expect(Number(one(unit, 'LimitNOFILE'))).toBeGreaterThanOrEqual(65536);
    expect(Number(one(unit, 'TimeoutStopSec'))).toBeGreaterThan(CENTRAL_DRAIN_SECONDS);
  });

  it("central's TimeoutStopSec outlasts central's own drain (TILLSYNC_DRAIN_TIMEOUT_MS's default) by 10 s or more, for closing the database", () => {
    const { drainTimeoutMs } = z.object({ drainTimeoutMs: z.number().int().positive() }).parse(configFromEnv({}));
    expect(drainTimeoutMs).toBeLessThanOrEqual(CENTRAL_DRAIN_SECONDS * 1000);
    expect(Number(one(unitFor('central'), 'TimeoutStopSec')) * 1000 - drainTimeoutMs).toBeGreaterThanOrEqual(10_000);
  });

  it('the agent: no PostgreSQL ordering, and the default open-file limit', () => {
    const unit = unitFor('agent');
    expect(values(unit, 'After')).toEqual(['network-online.target']);
    expect(values(unit, 'LimitNOFILE')).toEqual([]);
    expect(Number(one(unit, 'TimeoutStopSec'))).toBeGreaterThan(0);
  });

  it('user, group, environment file, state directory and writable paths are taken', () => {
    const unit = serviceUnit({ role: 'agent', ...SHIPPED, user: 'pos', group: 'possync', envFile: '/etc/pos/agent.env', stateDirectory: 'pos-agent', readWritePaths: ['/srv/pos/'] });
    expect(one(unit, 'User')).toBe('pos');
    expect(one(unit, 'Group')).toBe('possync');
    expect(one(unit, 'EnvironmentFile')).toBe('/etc/pos/agent.env');
    expect(one(unit, 'StateDirectory')).toBe('pos-agent');
    expect(unitEnvironment(unit)).toEqual({ DATABASE_URL: 'file:/var/lib/pos-agent/pos.db' });
    expect(values(unit, 'ReadWritePaths')).toEqual(['/srv/pos']);
    // The group is the user's own unless given.
    expect(one(serviceUnit({ role: 'central', ...SHIPPED, user: 'hq' }), 'Group')).toBe('hq');
  });

  it('bad options are refused, naming the option', () => {
    const ok = { role: 'central', ...SHIPPED };
    expect(refusal({ ...ok, role: 'web' })).toMatch(/^role: must be central or agent/);
    expect(refusal({ ...ok, nodePath: 'node' })).toMatch(/^nodePath: must be an absolute path/);
    expect(refusal({ ...ok, installDir: 'opt/tillsync' })).toMatch(/^installDir: must be an absolute path/);
    expect(refusal({ ...ok, installDir: '/opt/../tmp/tillsync' })).toMatch(/^installDir: must be a normalized path/);
    expect(refusal({ ...ok, installDir: '/opt//tillsync' })).toMatch(/^installDir: must be a normalized path/);
    expect(refusal({ ...ok, installDir: '/opt/till sync' })).toMatch(/^installDir: must not contain whitespace/);
    expect(refusal({ ...ok, nodePath: '/usr/bin/node;rm' })).toMatch(/^nodePath: must not contain/);
    expect(refusal({ ...ok, installDir: '/opt/%n' })).toMatch(/^installDir: must not contain/);
    expect(refusal({ ...ok, installDir: '/opt/till\u0001sync' })).toMatch(/^installDir: must not contain/);
    expect(refusal({ ...ok, installDir: '/home/ops/tillsync' })).toMatch(/^installDir: .*hidden from the service by ProtectHome=yes/);
    expect(refusal({ ...ok, nodePath: '/root/.nvm/versions/node/v20/bin/node' })).toMatch(/^nodePath: .*ProtectHome/);
    expect(refusal({ ...ok, envFile: 'central.env' })).toMatch(/^envFile: must be an absolute path/);
    expect(refusal({ ...ok, user: 'root' })).toMatch(/^user: must not be root/);
    expect(refusal({ ...ok, user: 'Till Sync' })).toMatch(/^user: must be a user\/group name/);
    expect(refusal({ ...ok, group: '0wheel;' })).toMatch(/^group: must be a user\/group name/);
    expect(refusal({ ...ok, stateDirectory: '/var/lib/x' })).toMatch(/^stateDirectory: must be a relative folder name/);
    expect(refusal({ ...ok, stateDirectory: 'a/../b' })).toMatch(/^stateDirectory: must/);
    expect(refusal({ ...ok, readWritePaths: ['pos'] })).toMatch(/^readWritePaths\.0: must be an absolute path/);
    expect(refusal({ ...ok, colour: 'blue' })).toMatch(/colour/);
    expect(refusal({ role: 'agent' })).toMatch(/nodePath[\s\S]*installDir/);
    expect(refusal(null)).toMatch(/^options: /);
  });
});

describe('the shipped files (deploy/systemd)', () => {
  for (const role of SERVICE_ROLES) {
    it(`tillsync-${role}.service is serviceUnit's output for /opt/tillsync and /usr/bin/node`, () => {
      const shipped = readFileSync(join(DEPLOY, `tillsync-${role}.service`), 'utf8');
      expect(
        shipped,
        `regenerate: node bin/tillsync.mjs service-unit ${role} --install-dir ${SHIPPED.installDir} --node ${SHIPPED.nodePath} > deploy/systemd/tillsync-${role}.service`,
      ).toBe(unitFor(role));
    });
  }

  it('deploy/systemd holds the two units and their two environment examples', () => {
    expect(readdirSync(DEPLOY).sort()).toEqual(['agent.env.example', 'central.env.example', 'tillsync-agent.service', 'tillsync-central.service']);
  });
});

/** An environment example: the set lines (NAME=value), the shown defaults (#NAME=value), and nothing else but comments. */
function readExample(file: string): { set: Record<string, string>; shown: Record<string, string> } {
  const set: Record<string, string> = {};
  const shown: Record<string, string> = {};
  for (const line of readFileSync(join(DEPLOY, file), 'utf8').split('\n')) {
    const s = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    const d = /^#([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (s?.[1] !== undefined) set[s[1]] = s[2] ?? '';
    else if (d?.[1] !== undefined) shown[d[1]] = d[2] ?? '';
    else expect(line === '' || line.startsWith('# ') || line === '#', `${file}: "${line}"`).toBe(true);
  }
  for (const name of Object.keys(set)) expect(shown[name], `${file}: ${name} both set and shown`).toBeUndefined();
  return { set, shown };
}

/** Every NAME in `env.NAME` / `process.env.NAME` under src/server: what central reads. */
function centralVariables(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) if (m[1]) names.add(m[1]);
    }
  };
  walk(join(ROOT, 'src', 'server'));
  return names;
}

describe('the environment examples', () => {
  it('central.env.example names every variable central reads, and no other', () => {
    const { set, shown } = readExample('central.env.example');
    const read = centralVariables();
    expect(read.size).toBeGreaterThan(15);
    expect(new Set([...Object.keys(set), ...Object.keys(shown)])).toEqual(read);
  });

  it("agent.env.example names every one of the agent's settings, and no other", () => {
    const { set, shown } = readExample('agent.env.example');
    expect(new Set([...Object.keys(set), ...Object.keys(shown)])).toEqual(new Set(Object.values(SETTINGS).map((s) => s.env)));
  });

  it("central.env.example: the defaults shown are central's defaults, the unit's own values are the unit's, and its set lines are a valid configuration", () => {
    const { set, shown } = readExample('central.env.example');
    const unitEnv = unitEnvironment(unitFor('central'));
    const defaults = configFromEnv({});
    for (const [name, value] of Object.entries(shown)) {
      if (name in unitEnv) expect(value, `${name} (set by the unit)`).toBe(unitEnv[name]);
      else if (value !== '') expect(configFromEnv({ [name]: value }), `#${name}=${value}`).toEqual(defaults);
    }
    const config = configFromEnv({ ...unitEnv, ...set });
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/var/lib/tillsync-central');
    expect(config.databaseUrl).toMatch(/^postgres:\/\//);
  });

  it("agent.env.example: the defaults shown are the agent's, the database is the unit's, and its set lines with the unit's make a valid configuration", () => {
    const { set, shown } = readExample('agent.env.example');
    const unitEnv = unitEnvironment(unitFor('agent'));
    const defaults = agentConfig({}, {}, []);
    for (const [name, value] of Object.entries(shown)) {
      if (name in unitEnv) expect(value, `${name} (set by the unit)`).toBe(unitEnv[name]);
      else if (value !== '') expect(agentConfig({}, { [name]: value }, []), `#${name}=${value}`).toEqual(defaults);
    }
    const config = agentConfig({}, { ...unitEnv, ...set });
    expect(config.databasePath).toBe('/var/lib/tillsync-agent/pos.db');
    expect(config.centralUrl).toMatch(/^https:\/\//);
  });
});

describe('systemd-analyze verify', () => {
  for (const role of SERVICE_ROLES) {
    it(`the shipped tillsync-${role}.service verifies clean`, () => {
      // verify checks that ExecStart's executable exists: the shipped units run /usr/bin/node.
      expect(existsSync(SHIPPED.nodePath), `the shipped units run ${SHIPPED.nodePath}, which this machine lacks (node is ${process.execPath})`).toBe(true);
      const r = verifyUnit(`tillsync-${role}`, readFileSync(join(DEPLOY, `tillsync-${role}.service`), 'utf8'));
      expect(verifiedClean(r), showVerify(r)).toBe(true);
    });
  }

  it('systemd-analyze security rates both units OK (exposure at most 3.5 of 10; 9.6 without the hardening)', () => {
    for (const role of SERVICE_ROLES) {
      const unit = unitFor(role);
      const hardened = exposure(`tillsync-${role}`, unit);
      expect(hardened.score, hardened.output).toBeLessThanOrEqual(3.5);
      // The control: the same unit with its hardening block cut out.
      const bare = exposure(`tillsync-${role}`, unit.replace(/^# Hardening[\s\S]*?(?=\n\[Install\])/m, ''));
      expect(bare.score, bare.output).toBeGreaterThan(9);
    }
  });

  it('the check fails for a misspelled key, a value verify cannot parse and a node that is not there (controls)', () => {
    const good = unitFor('central');
    expect(verifiedClean(verifyUnit('tillsync-central', good))).toBe(true);

    const misspelled = verifyUnit('tillsync-central', good.replace('ProtectHome=yes', 'ProtectHomee=yes'));
    expect(misspelled.code, showVerify(misspelled)).toBe(0); // verify only warns: the lines are what catch it
    expect(misspelled.problems.join('\n')).toMatch(/ProtectHomee/);
    expect(verifiedClean(misspelled)).toBe(false);

    const badValue = verifyUnit('tillsync-central', good.replace(/^TimeoutStopSec=.*$/m, 'TimeoutStopSec=a minute'));
    expect(badValue.problems.join('\n'), showVerify(badValue)).toMatch(/a minute/);
    expect(verifiedClean(badValue)).toBe(false);

    const noNode = verifyUnit('tillsync-central', good.replace(/^ExecStart=\/usr\/bin\/node /m, 'ExecStart=/usr/bin/no-such-node '));
    expect(noNode.code, showVerify(noNode)).not.toBe(0);
    expect(verifiedClean(noNode)).toBe(false);
  });
});

describe('tillsync service-unit (a separate process)', () => {
  for (const role of SERVICE_ROLES) {
    it(`prints the ${role} unit for this machine (this node, this package's folder), and it verifies clean`, async () => {
      const r = await runTillsync(['service-unit', role], cleanEnv());
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(serviceUnit({ role, nodePath: process.execPath, installDir: ROOT }));
      const v = verifyUnit(`tillsync-${role}`, r.stdout);
      expect(verifiedClean(v), showVerify(v)).toBe(true);
    });
  }

  it('names the node that runs it (a node at another path)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-node-'));
    try {
      const node = join(dir, 'node');
      // A hard link is another path to the same node (a copy where linking is not allowed).
      try {
        linkSync(process.execPath, node);
      } catch {
        copyFileSync(process.execPath, node);
      }
      const r = spawnSync(node, [join(ROOT, 'bin', 'tillsync.mjs'), 'service-unit', 'central'], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(one(r.stdout, 'ExecStart')).toBe(`${node} ${ROOT}/build/server/main.js`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('takes --user, --group, --environment-file, --install-dir and --node', async () => {
    const r = await runTillsync(
      ['service-unit', 'agent', '--user', 'pos', '--group', 'possync', '--environment-file', '/etc/pos/agent.env', '--install-dir', '/srv/tillsync', '--node', '/usr/local/bin/node'],
      cleanEnv(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      serviceUnit({ role: 'agent', user: 'pos', group: 'possync', envFile: '/etc/pos/agent.env', installDir: '/srv/tillsync', nodePath: '/usr/local/bin/node' }),
    );
    // The build is not in /srv/tillsync: a note on stderr, the unit still printed.
    expect(r.stderr).toMatch(/\/srv\/tillsync\/build\/agent\/cli\.js does not exist yet; run `npm run build`/);
  });

  it('bad arguments: one clear line, exit 2, no unit', async () => {
    const cases: [string[], RegExp][] = [
      [[], /give the unit to print, central or agent .*got none/],
      [['web'], /give the unit to print, central or agent .*got web/],
      [['central', 'agent'], /got central agent/],
      [['central', '--install-dir', 'opt/tillsync'], /--install-dir: must be an absolute path/],
      [['central', '--node', 'node'], /--node: must be an absolute path/],
      [['central', '--install-dir', '/home/ops/tillsync'], /--install-dir: .*ProtectHome=yes/],
      [['agent', '--user', 'root'], /--user: must not be root/],
      [['agent', '--environment-file', 'agent.env'], /--environment-file: must be an absolute path/],
      [['agent', '--database', '/tmp/pos.db'], /--database is not an option of service-unit; the service's settings go in its environment file/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runTillsync(['service-unit', ...args], cleanEnv())));
    for (const [i, [args, message]] of cases.entries()) {
      const r = runs[i] ?? { code: null, stdout: '', stderr: 'not run' };
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    const unknown = await runTillsync(['service-unit', 'central', '--colour', 'blue'], cleanEnv());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--colour'/);
  }, 120_000);

  it('help lists the command, its argument and its flags; other commands still refuse positionals', async () => {
    const help = await runTillsync(['help'], cleanEnv());
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}service-unit <central\|agent> print a systemd unit/m);
    for (const flag of ['--user', '--group', '--environment-file', '--install-dir', '--node']) expect(help.stdout).toContain(flag);
    const status = await runTillsync(['status', 'extra'], cleanEnv());
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/Unexpected argument 'extra'/);
  });
});

describe('packageRoot', () => {
  it("finds TillSync's package.json above src/ and build/ alike, and only TillSync's", () => {
    expect(packageRoot()).toBe(ROOT);
    expect(packageRoot(join(ROOT, 'build', 'agent', 'commands'))).toBe(ROOT);
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-root-'));
    try {
      mkdirSync(join(dir, 'node_modules', 'other', 'lib'), { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tillsync' }));
      writeFileSync(join(dir, 'node_modules', 'other', 'package.json'), JSON.stringify({ name: 'other' }));
      expect(packageRoot(join(dir, 'node_modules', 'other', 'lib'))).toBe(dir);
      rmSync(join(dir, 'package.json'));
      expect(() => packageRoot(join(dir, 'node_modules', 'other', 'lib'))).toThrow(/no TillSync package.json above/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
