/**
 * `tillsync support-bundle --out FILE [--force] [--logs FILE]`: this till's status,
 * settings, outbox, versions, sync history and schema parity in one .tar.gz, with
 * every secret redacted (src/main/sync/support-bundle.ts). What cannot be collected
 * (central unreachable, a database that does not open) is recorded in the bundle's
 * manifest; the bundle is still written.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { AgentConfigError, agentConfig, settingGiven, settingName, SETTINGS, syncConfigFrom, type AgentConfig } from '../../main/engine-settings.js';
import { buildSupportBundle, centralParity, type BundleLog } from '../../main/sync/support-bundle.js';
import { BundlePathError, checkBundlePath, writeBundleFile } from '../../main/sync/support-bundle-file.js';
import { isSecretName } from '../../main/sync/support-bundle-redact.js';
import type { Engine } from '../../main/sync/engine.js';
import { logger, type Command } from '../command.js';
import { openEngine } from '../open-engine.js';

/** The most of a log file the bundle takes (its end). */
const LOG_TAIL_BYTES = 4 * 1024 * 1024;

/** The environment variables that shape a till's sync (their values redacted by name where secret). */
const RELEVANT_ENV = /^(TILLSYNC_|CENTRAL_|DATABASE_URL$|TERMINAL_ID$|LOG_LEVEL$|NODE_ENV$|POSTGRES_URL|HTTPS?_PROXY$|NO_PROXY$)/i;

const STDOUT_NOTE =
  'tillsync agent and tillsync ui write their logs as JSON lines (pino) to standard output and keep no log file, so there are none on disk to include; ' +
  'pass --logs FILE with the file your service manager writes them to (e.g. journalctl -u tillsync > agent.log, or the file the agent is redirected to)';

function readLogTail(path: string): BundleLog {
  const abs = resolve(path);
  let size: number;
  try {
    const s = statSync(abs);
    if (!s.isFile()) throw new AgentConfigError(`--logs: ${abs} is not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof AgentConfigError) throw err;
    throw new AgentConfigError(`--logs: cannot read ${abs} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let text = readFileSync(abs).subarray(Math.max(0, size - LOG_TAIL_BYTES)).toString('utf8');
  // Cut at the first whole line when only the end was taken.
  if (size > LOG_TAIL_BYTES) text = text.slice(text.indexOf('\n') + 1);
  return { name: abs.split(/[\\/]/).pop() ?? 'agent.log', text };
}

export const supportBundleCommand: Command = {
  summary: "write a support bundle (.tar.gz): status, settings, outbox, versions, history, parity and logs, secrets redacted",
  options: {
    out: { type: 'string', help: 'the archive to write, e.g. ./tillsync-support.tar.gz' },
    force: { type: 'boolean', help: 'replace the output file if it exists' },
    logs: { type: 'string', help: "a log file of this till's agent to include (its last 4 MiB, redacted)" },
  },
  async run({ flags, env }) {
    if (typeof flags.out !== 'string' || flags.out.trim() === '') throw new AgentConfigError('--out: give the file to write, e.g. --out ./tillsync-support.tar.gz');
    const force = flags.force === true;
    let out: string;
    try {
      out = checkBundlePath(flags.out, { force });
    } catch (err) {
      if (err instanceof BundlePathError) throw new AgentConfigError(`--out: ${err.message}`);
      throw err;
    }
    const logs = typeof flags.logs === 'string' ? [readLogTail(flags.logs)] : [];
    const config = agentConfig(flags, env, ['databasePath']);
    const given = (k: keyof AgentConfig) => settingGiven(flags, env, k);

    let engine: Engine | undefined;
    let engineProblem: string | null = null;
    try {
      engine = openEngine(config, logger('silent'), { create: false, createHint: null, terminalGiven: given('terminalId') });
    } catch (err) {
      engineProblem = err instanceof Error ? err.message : String(err);
    }
    try {
      const settings: Record<string, unknown> = {};
      for (const k of Object.keys(SETTINGS) as (keyof AgentConfig)[]) {
        // The connection's placeholders (for a setting not given) are not settings: shown as not set.
        const placeholder = ['centralUrl', 'apiKey', 'terminalId'].includes(k) && !given(k);
        settings[k] = placeholder ? null : (config[k] ?? null);
      }
      const environment: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(env)) if (RELEVANT_ENV.test(k)) environment[k] = v;
      const secrets = [given('apiKey') ? config.apiKey : undefined, ...Object.entries(env).filter(([k]) => isSecretName(k)).map(([, v]) => v)];
      const notSet = (['centralUrl', 'apiKey', 'terminalId'] as const).filter((k) => !given(k));
      const terminalId = (given('terminalId') ? config.terminalId : engine?.store.base.getMeta('terminal_id')) ?? null;
      const bundle = await buildSupportBundle({
        source: 'cli',
        // The service never starts here: the terminal it works for is the database's (or the one given).
        engine: engine ? { store: engine.store, status: () => ({ ...engine.service.status(), terminalId: terminalId ?? '' }) } : undefined,
        engineProblem,
        terminalId,
        settings: { settings, environment },
        secrets,
        appVersion: syncConfigFrom(config).appVersion,
        parity:
          notSet.length > 0
            ? `schema parity not checked: ${notSet.map(settingName).join(', ')} not set`
            : centralParity({ databasePath: config.databasePath, centralUrl: config.centralUrl, apiKey: config.apiKey }),
        logs: {
          files: logs,
          note: logs.length > 0 ? `the last lines of ${resolve(String(flags.logs))} (given with --logs); ${STDOUT_NOTE.split(';')[0]}` : STDOUT_NOTE,
        },
      });
      let written: string;
      try {
        written = writeBundleFile(out, bundle.archive, { force });
      } catch (err) {
        if (err instanceof BundlePathError) throw new AgentConfigError(`--out: ${err.message}`);
        throw err;
      }
      const lines = [`wrote ${written} (${bundle.manifest.files.length + 1} files, ${bundle.archive.length} bytes)`];
      for (const p of bundle.manifest.problems) lines.push(`  not collected: ${p.section}: ${p.message}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      // The service never started: only the database is closed.
      engine?.store.close();
    }
  },
};
