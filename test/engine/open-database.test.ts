/**
 * Opening a terminal database never makes one by accident: LocalStore creates a
 * missing file only when told to (`create: true`, the CLI's --create), and never
 * makes a missing folder. The simulator (the POS) never makes one at all.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfigError } from '../../src/main/engine-settings.js';
import { LocalStore, PosDatabaseMissingError } from '../../src/main/sync/store/index.js';
import { simulateCommand } from '../../src/agent/commands/simulate.js';
import { removeTempDirs, tempDir } from '../helpers/engine.js';

afterAll(removeTempDirs);

describe('LocalStore and a database that is not there', () => {
  it('a missing file is an error naming it, and nothing is created', () => {
    const dir = tempDir();
    const path = join(dir, 'pso.db');
    let thrown: unknown;
    try {
      new LocalStore(path, 'till-open-1').close();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PosDatabaseMissingError);
    expect(thrown).toMatchObject({ path, missing: 'file', message: `POS database ${path} does not exist` });
    expect(readdirSync(dir), 'no file, no -wal or -shm').toEqual([]);
  });

  it('create: true makes it with the POS tables; then it opens without create', () => {
    const path = join(tempDir(), 'pos.db');
    const made = new LocalStore(path, 'till-open-2', { create: true });
    expect(made.base.install.createdTables.length).toBeGreaterThan(0);
    made.close();
    expect(existsSync(path)).toBe(true);
    const again = new LocalStore(path, 'till-open-2');
    expect(again.base.install.createdTables).toEqual([]);
    expect(again.base.tables.size).toBe(made.base.tables.size);
    again.close();
  });

  it('a missing folder is an error naming the folder, also with create: true, and no folder is made', () => {
    const folder = join(tempDir(), 'no-such-folder');
    const path = join(folder, 'pos.db');
    for (const opts of [{}, { create: true }]) {
      expect(() => new LocalStore(path, 'till-open-3', opts)).toThrow(new PosDatabaseMissingError(path, 'folder').message);
      expect(existsSync(folder)).toBe(false);
    }
  });

  it('the simulator (the POS) never makes a database: a missing file or folder names DATABASE_URL', async () => {
    const dir = tempDir();
    const run = (database: string) => simulateCommand.run({ flags: { database, count: '1' }, env: {} });
    await expect(run(join(dir, 'pos.db'))).rejects.toThrow(AgentConfigError);
    await expect(run(join(dir, 'pos.db'))).rejects.toThrow(/^DATABASE_URL \(--database\): POS database .*pos\.db does not exist; check the path, or make it first with `tillsync status --create`/);
    await expect(run(join(dir, 'nowhere', 'pos.db'))).rejects.toThrow(/^DATABASE_URL \(--database\): the folder .*nowhere does not exist/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
