/**
 * Bootstrap, the reverse initial load: rows of a legacy POS database that have no
 * central id get one and are queued as creates, table by table in foreign-key
 * order. Each chunk is one transaction, selected by "no central id yet", so a
 * crash resumes where it stopped.
 */
import { LOCAL_KEY, LOCAL_SERVER_ID, priorityOf, pushable, type CatalogEntry } from '../../shared/catalog/index.js';
import type { LocalRow } from './mapping.js';
import type { LocalStore } from './store/index.js';
import { uuid7 } from '../../shared/uuid7.js';
import { q } from './schema.js';
import { pickImage } from './store/rows.js';

export interface BootstrapReport {
  /** Rows given a central id and queued, per table. */
  readonly queued: Record<string, number>;
  /** Tables central does not take from terminals (direction down) that have rows without a central id. */
  readonly skipped: Record<string, number>;
}

export function bootstrap(store: LocalStore, opts: { chunk?: number; onProgress?: (table: string, done: number) => void } = {}): BootstrapReport {
  const chunk = opts.chunk ?? 1000;
  const queued: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  // Rows the POS just wrote get their central ids from the capture log, not from here.
  store.capture.promote();
  for (const { entry, columns } of store.base.tables.values()) {
    const unlinked = store.base.db.prepare(`SELECT count(*) AS n FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} IS NULL`).get() as { n: number };
    if (unlinked.n === 0) continue;
    if (!pushable(entry)) {
      skipped[entry.table] = unlinked.n;
      continue;
    }
    let done = 0;
    for (;;) {
      const n = store.base.applying(() => {
        // A write captured since the step above gets its central id from the log first.
        store.capture.promoteInline();
        return queueChunk(store, entry, columns, chunk);
      });
      if (n === 0) break;
      done += n;
      opts.onProgress?.(entry.table, done);
    }
    queued[entry.table] = done;
  }
  return { queued, skipped };
}

function queueChunk(store: LocalStore, entry: CatalogEntry, columns: ReadonlySet<string>, chunk: number): number {
  const rows = store.base.db
    .prepare(`SELECT * FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} IS NULL ORDER BY ${q(LOCAL_KEY)} LIMIT ?`)
    .all(chunk) as LocalRow[];
  const setId = store.base.db.prepare(`UPDATE ${q(entry.table)} SET ${q(LOCAL_SERVER_ID)} = ? WHERE ${q(LOCAL_KEY)} = ?`);
  for (const row of rows) {
    const localId = Number(row[LOCAL_KEY]);
    const serverId = uuid7();
    setId.run(serverId, localId);
    store.outbox.insert({
      table: entry.table,
      localId,
      serverId,
      operation: 'CREATE',
      newImage: JSON.stringify(pickImage(entry, { ...row, [LOCAL_KEY]: localId }, columns)),
      priority: priorityOf(entry.priority, row),
      // Deliberate, not the control table's mode: these rows were written before this
      // till synced at all, so they were made offline whatever the link is doing now.
      mode: 'OFFLINE',
      txGroup: store.batches.groupOf(entry, row, serverId),
    });
  }
  return rows.length;
}
