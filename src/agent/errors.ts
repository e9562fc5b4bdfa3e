/**
 * The agent's one-line errors for what it finds at run time (a POS database that is
 * not there or belongs to another terminal, a key central refuses), each naming the
 * setting to fix. They are AgentConfigErrors: the CLI prints them alone and exits 2.
 */
import { dirname } from 'node:path';
import { AgentConfigError, settingName } from '../main/engine-settings.js';

/**
 * The one line for a POS database that is not where the settings say. `createHint`
 * says how this command would make a new one (null when it never does).
 */
export function missingDatabaseError(path: string, missing: 'file' | 'folder', createHint: string | null): AgentConfigError {
  if (missing === 'folder') {
    return new AgentConfigError(
      `${settingName('databasePath')}: the folder ${dirname(path)} does not exist (POS database ${path}); check the path${createHint ? ' (--create makes the database file, not its folder)' : ''}`,
    );
  }
  return new AgentConfigError(`${settingName('databasePath')}: POS database ${path} does not exist; check the path${createHint ? `, or ${createHint}` : ''}`);
}

/** The database was bound to another terminal (its first sync recorded that terminal's id). */
export function terminalMismatchError(path: string, known: string, given: string): AgentConfigError {
  return new AgentConfigError(`${settingName('terminalId')}: POS database ${path} belongs to terminal ${known}, not ${given}; use ${known}, or another database for ${given}`);
}

/** Central's definite refusal of the terminal's key (see CentralError.refusesKey), as one line naming what to fix. */
export function keyRefusedError(terminalId: string, refusal: { status: number; code: string; message: string }): AgentConfigError {
  const why = `(${refusal.status} ${refusal.code}: ${refusal.message})`;
  if (refusal.code === 'WRONG_TERMINAL') {
    return new AgentConfigError(`${settingName('apiKey')} or ${settingName('terminalId')}: central refused this key for terminal ${terminalId} ${why}`);
  }
  if (refusal.code === 'TERMINAL_DISABLED') {
    return new AgentConfigError(`${settingName('terminalId')}: central refused terminal ${terminalId}, it is disabled there ${why}`);
  }
  return new AgentConfigError(`${settingName('apiKey')}: central refused this key for terminal ${terminalId} ${why}`);
}

