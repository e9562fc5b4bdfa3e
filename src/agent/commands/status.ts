/** `tillsync status [--json]`: outbox counts, paused tables and open conflicts of this terminal. */
import { agentConfig, settingGiven } from '../../main/engine-settings.js';
import { logger, type Command } from '../command.js';
import { CREATE_OPTION, openEngine } from '../open-engine.js';

export const statusCommand: Command = {
  summary: "this terminal's outbox counts per table, paused tables and open conflicts",
  options: { json: { type: 'boolean', help: 'print JSON' }, ...CREATE_OPTION },
  async run({ flags, env }) {
    const config = agentConfig(flags, env, ['databasePath']);
    const log = logger('warn');
    const { store, service } = openEngine(config, log, { create: flags.create === true, terminalGiven: settingGiven(flags, env, 'terminalId') });
    try {
      const s = service.status();
      const conflicts = store.conflicts.openConflicts();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ ...s, terminalId: store.base.getMeta('terminal_id') ?? null, lastSyncAt: store.base.getMeta('last_sync_at') ?? null, openConflicts: conflicts.length }, null, 2)}\n`);
        return 0;
      }
      const lines = [`terminal ${store.base.getMeta('terminal_id') ?? '(not initialized)'}, last sync ${store.base.getMeta('last_sync_at') ?? 'never'}`];
      lines.push(`${'table'.padEnd(22)} ${'pending'.padStart(8)} ${'failed'.padStart(7)} ${'synced'.padStart(8)} ${'conflicts'.padStart(9)}  paused`);
      for (const [type, c] of Object.entries(s.tables)) {
        lines.push(`${type.padEnd(22)} ${String(c.pending).padStart(8)} ${String(c.failed).padStart(7)} ${String(c.synced).padStart(8)} ${String(c.conflicts).padStart(9)}  ${c.paused ?? ''}`);
      }
      lines.push(`${'total'.padEnd(22)} ${String(s.totals.pending).padStart(8)} ${String(s.totals.failed).padStart(7)} ${String(s.totals.synced).padStart(8)} ${String(s.totals.conflicts).padStart(9)}`);
      lines.push(`open conflicts: ${conflicts.length}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      // The service never started (nothing to stop): only the database is closed.
      store.close();
    }
  },
};
