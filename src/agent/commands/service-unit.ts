/**
 * `tillsync service-unit central|agent [--user U] [--group G] [--environment-file F] [--install-dir D] [--node N]`:
 * prints a systemd unit (src/agent/service-unit.ts) for this machine: node is the one
 * running this command, the install folder is this package's root. Redirect it into
 * /etc/systemd/system/tillsync-<role>.service.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AgentConfigError } from '../../main/engine-settings.js';
import type { Command } from '../command.js';
import { ENTRY_POINTS, SERVICE_ROLES, ServiceUnitError, serviceUnit, type ServiceRole } from '../service-unit.js';

const OPTIONS = {
  user: { type: 'string', help: 'the user the service runs as (default tillsync)' },
  group: { type: 'string', help: "its group (default the user's name)" },
  // Not --env-file: node 20 takes that flag for itself even after the script's name.
  'environment-file': { type: 'string', help: 'the environment file (default /etc/tillsync/<central|agent>.env)' },
  'install-dir': { type: 'string', help: "where TillSync is installed (default this package's folder)" },
  node: { type: 'string', help: 'node to run it with (default the node running this command)' },
} as const;

const PackageJson = z.object({ name: z.string() }).loose();

/**
 * This package's root: the nearest folder above this module with TillSync's
 * package.json (src/agent/commands under tsx, build/agent/commands after the build).
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = PackageJson.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.success && parsed.data.name === 'tillsync') return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no TillSync package.json above ${from}`);
  }
}

function stringFlag(flags: Record<string, string | boolean | undefined>, name: keyof typeof OPTIONS): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export const serviceUnitCommand: Command = {
  summary: `print a systemd unit (${SERVICE_ROLES.join('|')}) for this machine's paths, e.g. tillsync service-unit central > /etc/systemd/system/tillsync-central.service`,
  positionals: '<central|agent>',
  options: OPTIONS,
  async run({ flags, positionals = [] }) {
    // Every command takes the agent's settings as flags; a unit takes none of them (they go in the environment file).
    const stray = Object.keys(flags).filter((f) => flags[f] !== undefined && !(f in OPTIONS));
    if (stray.length > 0) {
      throw new AgentConfigError(`service-unit: ${stray.map((f) => `--${f}`).join(', ')} is not an option of service-unit; the service's settings go in its environment file (see deploy/systemd/*.env.example)`);
    }
    if (positionals.length !== 1 || !(SERVICE_ROLES as readonly string[]).includes(positionals[0] ?? '')) {
      throw new AgentConfigError(`service-unit: give the unit to print, ${SERVICE_ROLES.join(' or ')} (e.g. tillsync service-unit central); got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`);
    }
    const role = positionals[0] as ServiceRole;
    const installDir = stringFlag(flags, 'install-dir') ?? packageRoot();
    let unit: string;
    try {
      unit = serviceUnit({
        role,
        nodePath: stringFlag(flags, 'node') ?? process.execPath,
        installDir,
        user: stringFlag(flags, 'user'),
        group: stringFlag(flags, 'group'),
        envFile: stringFlag(flags, 'environment-file'),
      });
    } catch (err) {
      if (err instanceof ServiceUnitError) {
        const byFlag: Record<string, string> = { nodePath: '--node', installDir: '--install-dir', user: '--user', group: '--group', envFile: '--environment-file' };
        throw new AgentConfigError(`service-unit: ${err.message.split('\n').map((l) => l.replace(/^(\w+):/, (m, k: string) => `${byFlag[k] ?? k}:`)).join('\n  ')}`);
      }
      throw err;
    }
    process.stdout.write(unit);
    const script = join(installDir, ENTRY_POINTS[role].script);
    if (!existsSync(script)) process.stderr.write(`note: ${script} does not exist yet; run \`npm run build\` in ${installDir} before starting the service\n`);
    return 0;
  },
};
