/** `tillsync parity [--json]`: SQLite vs the catalog vs central's PostgreSQL columns. */
import type { SchemaResponse } from '../../shared/protocol.js';
import { agentConfig } from '../../main/engine-settings.js';
import { CentralClient, CentralError } from '../../main/sync/central-client.js';
import { missingPart } from '../../main/sync/store/index.js';
import type { Command } from '../command.js';
import { keyRefusedError, missingDatabaseError, terminalMismatchError } from '../errors.js';
import { boundTerminal, compareSchemas, formatParityReport, readLocalSchema } from '../parity.js';

/** `tillsync parity [--json]`: exit 0 when everything matches, 1 when something differs. */
export const parityCommand: Command = {
  summary: 'compare SQLite, the catalog and central PostgreSQL columns per table (exit 1 on differences)',
  options: { json: { type: 'boolean', help: 'print the report as JSON' } },
  async run({ flags, env }) {
    const config = agentConfig(flags, env);
    // Parity only reads the POS's database: it never makes one.
    const missing = missingPart(config.databasePath);
    if (missing) throw missingDatabaseError(config.databasePath, missing, null);
    const known = boundTerminal(config.databasePath);
    if (known !== undefined && known !== config.terminalId) throw terminalMismatchError(config.databasePath, known, config.terminalId);
    const local = readLocalSchema(config.databasePath);
    const client = new CentralClient({ baseUrl: config.centralUrl, apiKey: config.apiKey });
    let schema: SchemaResponse;
    try {
      schema = await client.schema();
    } catch (err) {
      if (err instanceof CentralError && err.refusesKey) throw keyRefusedError(config.terminalId, err);
      throw err;
    }
    const report = compareSchemas(local, schema);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ database: config.databasePath, central: client.baseUrl, terminalId: config.terminalId, ...report }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatParityReport(report, { database: config.databasePath, central: client.baseUrl })}\n`);
    }
    return report.summary.ok ? 0 : 1;
  },
};
