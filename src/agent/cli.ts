/**
 * `tillsync`: the headless agent and its tools.
 *
 *   tillsync agent               run the engine until SIGTERM/SIGINT
 *   tillsync sync [--full]       one sync pass, then exit (1 if it had errors)
 *   tillsync status [--json]     outbox counts, cursors, conflicts of this terminal
 *   tillsync bootstrap           give legacy rows central ids and queue them
 *   tillsync parity [--json]     compare SQLite, the catalog and central's PostgreSQL columns
 *   tillsync audit [--table T] [--json]  compare this till's synced rows with central's (exit 0 in step, 3 not)
 *   tillsync simulate            a POS simulator ringing up sales into a terminal database
 *   tillsync ui                  the engine with the companion UI in a browser (web mode)
 *   tillsync support-bundle --out FILE   status, settings, outbox, versions, history, parity and logs in one
 *                                .tar.gz, secrets redacted
 *   tillsync service-unit central|agent  print a systemd unit for this machine's paths
 *
 * Each command is one module under ./commands; bin/tillsync.mjs is the only importer
 * of this file.
 */
// First, for its effect, before the engine starts: the heap's growth between full collections (see the module).
import '../main/heap-growth.js';
import { parseArgs } from 'node:util';
import { AgentConfigError, SETTINGS } from '../main/engine-settings.js';
import type { Command } from './command.js';
import { agentCommand } from './commands/agent.js';
import { auditCommand } from './commands/audit.js';
import { bootstrapCommand } from './commands/bootstrap.js';
import { parityCommand } from './commands/parity.js';
import { simulateCommand } from './commands/simulate.js';
import { serviceUnitCommand } from './commands/service-unit.js';
import { statusCommand } from './commands/status.js';
import { supportBundleCommand } from './commands/support-bundle.js';
import { syncCommand } from './commands/sync.js';
import { uiCommand } from './commands/ui.js';

/** The commands, in the order `tillsync help` lists them. */
export const COMMANDS: Record<string, Command> = {
  agent: agentCommand,
  sync: syncCommand,
  status: statusCommand,
  bootstrap: bootstrapCommand,
  parity: parityCommand,
  audit: auditCommand,
  simulate: simulateCommand,
  ui: uiCommand,
  'support-bundle': supportBundleCommand,
  'service-unit': serviceUnitCommand,
};

export function usage(): string {
  const lines = ['usage: tillsync <command> [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) {
    lines.push(`  ${(c.positionals ? `${name} ${c.positionals}` : name).padEnd(10)} ${c.summary}`);
    for (const [flag, o] of Object.entries(c.options ?? {})) lines.push(`      --${flag.padEnd(18)} ${o.help}`);
  }
  lines.push('', 'settings (flag, or environment variable):');
  for (const s of Object.values(SETTINGS)) lines.push(`  ${s.flag.padEnd(20)} ${s.env.padEnd(28)} ${s.help}`);
  return lines.join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const options: Record<string, { type: 'boolean' | 'string' }> = {};
  for (const s of Object.values(SETTINGS)) options[s.flag.slice(2)] = { type: 'string' };
  for (const [flag, o] of Object.entries(command.options ?? {})) options[flag] = { type: o.type };
  let flags: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options, strict: true, allowPositionals: command.positionals !== undefined });
    flags = parsed.values as Record<string, string | boolean | undefined>;
    positionals = parsed.positionals;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await command.run({ flags, env, positionals });
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`tillsync ${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Runs the command line and exits with its code: for bin/tillsync.mjs, and for this file run directly. */
export function runAndExit(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): void {
  main(argv, env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

// Run directly (`node build/agent/cli.js`, `tsx src/agent/cli.ts`). bin/tillsync.mjs calls
// runAndExit itself: run through a symlink (an installed `tillsync`), its own name is not known here.
const entry = process.argv[1] ?? '';
if (entry.endsWith('cli.ts') || entry.endsWith('cli.js')) runAndExit();
