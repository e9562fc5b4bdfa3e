/**
 * systemd units for central and the headless agent, as a pure function of validated
 * options: `serviceUnit(options)` is the unit's text. `tillsync service-unit` prints it
 * for this machine's paths (commands/service-unit.ts), and deploy/systemd/*.service are
 * its output for /opt/tillsync and /usr/bin/node (a test holds them equal).
 *
 * No I/O here: the caller finds node and the install folder.
 */
import { posix } from 'node:path';
import { z } from 'zod';

export const SERVICE_ROLES = ['central', 'agent'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];

/** Seconds central may take to drain on SIGTERM (stop accepting, finish pushes in flight). */
export const CENTRAL_DRAIN_SECONDS = 30;
/** TimeoutStopSec per role: central's drain plus closing its database with room to spare; the agent closes its engine. */
export const STOP_TIMEOUT_SECONDS: Record<ServiceRole, number> = { central: 60, agent: 30 };
/** Open files for central: two descriptors per connected terminal (its socket.io connection and its HTTP keep-alive). */
export const CENTRAL_NOFILE = 65536;

/** The paths the install uses unless told otherwise. */
export const SERVICE_DEFAULTS = {
  user: 'tillsync',
  installDir: '/opt/tillsync',
  nodePath: '/usr/bin/node',
  envFile: (role: ServiceRole) => `/etc/tillsync/${role}.env`,
  stateDirectory: (role: ServiceRole) => `tillsync-${role}`,
} as const;

/** What ProtectHome=yes hides from the service: nothing it runs or writes may be there. */
const HIDDEN_BY_PROTECT_HOME = ['/home', '/root', '/run/user'];

/**
 * Characters a path in a unit may not hold: whitespace, control characters and quotes
 * would split or quote ExecStart, `%` is a systemd specifier, `$` an environment
 * expansion, `\` an escape, `;` a command separator in older systemd.
 */
const UNSAFE_PATH_CHAR = /[\s"'%$\\;]/;
const hasControlChar = (p: string) => [...p].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

const absolutePath = z
  .string()
  .min(1, 'must not be empty')
  .refine((p) => !UNSAFE_PATH_CHAR.test(p) && !hasControlChar(p), 'must not contain whitespace, control characters, quotes, %, $, \\ or ;')
  .refine((p) => p.startsWith('/'), 'must be an absolute path (starting with /)')
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p))
  .refine((p) => posix.normalize(p) === p, 'must be a normalized path (no . or .. segments, no //)');

const visibleToService = (what: string) =>
  absolutePath.refine(
    (p) => !HIDDEN_BY_PROTECT_HOME.some((h) => p === h || p.startsWith(`${h}/`)),
    `${what} under /home, /root or /run/user is hidden from the service by ProtectHome=yes; install under /opt (e.g. /opt/tillsync)`,
  );

/** A user or group name as useradd takes it; root is refused (the point is a dedicated, unprivileged user). */
const unixName = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user/group name: lower-case letters, digits, _ or -, starting with a letter or _, at most 32')
  .refine((n) => n !== 'root', 'must not be root: run TillSync as a dedicated unprivileged user (e.g. tillsync)');

/** StateDirectory= takes names relative to /var/lib. */
const stateDirectoryName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/, 'must be a relative folder name under /var/lib, e.g. tillsync-central')
  .refine((s) => !s.split('/').some((seg) => seg === '.' || seg === '..'), 'must not contain . or .. segments');

export const ServiceUnitOptions = z
  .object({
    role: z.enum(SERVICE_ROLES, { error: `must be ${SERVICE_ROLES.join(' or ')}` }),
    /** node's absolute path (process.execPath for this machine). */
    nodePath: visibleToService('node'),
    /** The package's root: package.json, build/, node_modules/, drizzle/, out/. */
    installDir: visibleToService('the install folder'),
    user: unixName.default(SERVICE_DEFAULTS.user),
    /** Defaults to the user's name (useradd's own group). */
    group: unixName.optional(),
    /** The environment file; defaults to /etc/tillsync/<role>.env. */
    envFile: absolutePath.optional(),
    /** Under /var/lib; defaults to tillsync-<role>. */
    stateDirectory: stateDirectoryName.optional(),
    /** More folders the service may write (the agent's POS database when it is not in the state directory). */
    readWritePaths: z.array(visibleToService('a writable path')).default([]),
  })
  .strict();
export type ServiceUnitOptions = z.infer<typeof ServiceUnitOptions>;
export type ServiceUnitInput = z.input<typeof ServiceUnitOptions>;

export class ServiceUnitError extends Error {
  override name = 'ServiceUnitError';
}

/** Validates options: a ServiceUnitError lists every bad one (`installDir: must be an absolute path`). */
export function serviceUnitOptions(input: unknown): ServiceUnitOptions {
  const parsed = ServiceUnitOptions.safeParse(input);
  if (!parsed.success) {
    throw new ServiceUnitError(parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('\n'));
  }
  return parsed.data;
}

/** What the process runs, relative to the install folder (the production build, `npm run build`). */
export const ENTRY_POINTS: Record<ServiceRole, { script: string; args: readonly string[] }> = {
  central: { script: 'build/server/main.js', args: [] },
  agent: { script: 'build/agent/cli.js', args: ['agent'] },
};

/** The unit's text for these options (validated here too: an invalid one throws ServiceUnitError). */
export function serviceUnit(input: ServiceUnitInput): string {
  const o = serviceUnitOptions(input);
  const group = o.group ?? o.user;
  const envFile = o.envFile ?? SERVICE_DEFAULTS.envFile(o.role);
  const stateDirectory = o.stateDirectory ?? SERVICE_DEFAULTS.stateDirectory(o.role);
  const statePath = `/var/lib/${stateDirectory}`;
  const entry = ENTRY_POINTS[o.role];
  const execStart = [o.nodePath, posix.join(o.installDir, entry.script), ...entry.args].join(' ');
  const central = o.role === 'central';

  const lines: string[] = [];
  const add = (...l: string[]) => lines.push(...l);
  const comment = (text: string) => add(...text.split('\n').map((l) => `# ${l}`));

  comment(
    central
      ? 'TillSync central sync server (HTTP API and socket.io for the terminals, the console at /console).'
      : "TillSync headless agent: the sync engine for one till's POS database.",
  );
  comment(`Made by \`tillsync service-unit ${o.role}\`; settings go in ${envFile}, not here.`);
  comment('Needs systemd 247 or newer (ProtectProc=); older versions warn about the keys they do not know and ignore them.');
  add('', '[Unit]');
  add(`Description=${central ? 'TillSync central sync server' : 'TillSync headless sync agent'}`);
  comment(central ? 'Terminals reach central over the network: start once it is up.' : 'Central is reached over the network: start once it is up (the agent also runs offline and catches up later).');
  add('Wants=network-online.target', 'After=network-online.target');
  if (central) {
    comment(
      'Ordering only, no dependency: with PostgreSQL on this machine central starts after it and stops\nbefore it; with a remote PostgreSQL (or embedded PGlite) this line does nothing.',
    );
    add('After=postgresql.service');
  }

  add('', '[Service]');
  comment('exec: `systemctl start` fails at once when node cannot be executed (simple would report success).');
  add('Type=exec');
  comment('A dedicated unprivileged user (useradd --system --no-create-home --shell /usr/sbin/nologin tillsync).');
  add(`User=${o.user}`, `Group=${group}`);
  add(`WorkingDirectory=${o.installDir}`);
  comment(
    central
      ? `Embedded PGlite's data (when no PostgreSQL URL is set) in the state directory below, the only\nplace central may write. The environment file overrides Environment= lines (systemd reads it\nas root before dropping privileges, so it can be root:root 0600 and hold the admin token).`
      : `The POS database in the state directory below, the only place the agent may write. The\nenvironment file overrides Environment= lines (systemd reads it as root before dropping\nprivileges, so it can be root:root 0600 and hold the terminal key). A POS database elsewhere:\nset DATABASE_URL there and add its folder with \`systemctl edit\` (ReadWritePaths=/that/folder).`,
  );
  add(central ? `Environment=TILLSYNC_DATA_DIR=${statePath}` : `Environment=DATABASE_URL=file:${statePath}/pos.db`);
  add(`EnvironmentFile=${envFile}`);
  comment('The production build (`npm run build`), run by node with no tsx.');
  add(`ExecStart=${execStart}`);
  comment(
    central
      ? 'Logs are JSON lines (pino) on stdout: journalctl -u <this unit> -o cat.'
      : 'Logs are JSON lines (pino) on stdout: journalctl -u <this unit> -o cat (or `tillsync support-bundle --logs`).',
  );
  add(`SyslogIdentifier=tillsync-${o.role}`);
  add('Restart=on-failure', 'RestartSec=5');
  comment(
    central
      ? 'Exit 2 is a configuration error (a bad variable, named in the log): restarting cannot fix it.'
      : 'Exit 2 is a configuration error (a bad or missing setting, a POS database that is not there,\na key central refuses), named in the log: restarting cannot fix it.',
  );
  add('RestartPreventExitStatus=2');
  comment(
    central
      ? `SIGTERM starts central's drain: it stops accepting and finishes the pushes in flight (up to\n~${CENTRAL_DRAIN_SECONDS} s, TILLSYNC_DRAIN_TIMEOUT_MS), then closes the database. TimeoutStopSec leaves room\nfor all of it before SIGKILL: keep the drain's timeout well below it.`
      : 'SIGTERM stops the engine: the sync pass in flight ends and the database closes before exit.',
  );
  add('KillSignal=SIGTERM', `TimeoutStopSec=${STOP_TIMEOUT_SECONDS[o.role]}`);
  comment(`${statePath}, made and owned by ${o.user} at start, readable by it alone.`);
  add(`StateDirectory=${stateDirectory}`, 'StateDirectoryMode=0700');
  for (const p of o.readWritePaths) add(`ReadWritePaths=${p}`);
  comment('Files the service makes are its own user\'s alone (databases, PGlite\'s files).');
  add('UMask=0077');
  if (central) {
    comment(`Two descriptors per connected terminal (socket.io and HTTP); the default 1024 caps central near 500 tills.`);
    add(`LimitNOFILE=${CENTRAL_NOFILE}`);
  }

  add('');
  comment('Hardening (`systemd-analyze security <this unit>` scores it).');
  comment('No privileges at all: no setuid, no capabilities (so no port below 1024: terminate TLS on a\nproxy in front, or listen on 443 with AmbientCapabilities=CAP_NET_BIND_SERVICE in a drop-in).');
  add('NoNewPrivileges=yes', 'CapabilityBoundingSet=', 'AmbientCapabilities=', 'RestrictSUIDSGID=yes');
  comment('The whole file system read-only (the install folder included) but the state directory; /home,\n/root and /run/user hidden; a private /tmp; no devices beyond /dev/null, /dev/urandom and the like.');
  add('ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes');
  add(
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
  );
  comment('IPv4/IPv6 for HTTP and PostgreSQL, Unix sockets for a local PostgreSQL and DNS; nothing else.');
  add('RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX');
  add('RestrictNamespaces=yes', 'RestrictRealtime=yes', 'LockPersonality=yes', 'RemoveIPC=yes', 'SystemCallArchitectures=native');
  comment(
    "MemoryDenyWriteExecute= is deliberately not set: V8's JIT compiler writes machine code to memory\nit then executes (W+X mappings); with it node dumps core at start (V8's isolate cannot set up\nits code pages).",
  );
  comment(
    "SystemCallFilter= is deliberately not set either: node needs system calls outside\n@system-service on some systemd versions (pkey_alloc, io_uring_*), and a call the filter\nmisses kills the process with SIGSYS.",
  );

  add('', '[Install]', 'WantedBy=multi-user.target', '');
  return lines.join('\n');
}
