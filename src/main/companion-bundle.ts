/**
 * The companion's support bundle (src/main/sync/support-bundle.ts) from what the
 * companion holds: its engine (if running), the settings it saved, the connection in
 * force (Settings over the environment's defaults) and this process's recent logs.
 * The terminal key, the PIN hash and the environment's key are redacted wherever they
 * appear.
 */
import type { SavedSupportBundle } from '../shared/ipc.js';
import type { CompanionDefaults } from './engine-settings.js';
import type { StoredSettings } from './settings.js';
import type { Engine } from './sync/engine.js';
import { DEFAULT_SYNC_CONFIG } from './sync/sync-config.js';
import { buildSupportBundle, centralParity, type BundleLog, type BundleSource } from './sync/support-bundle.js';
import { writeBundleFile } from './sync/support-bundle-file.js';

/** How a companion makes support bundles (the Electron main process and web mode each give their own). */
export interface CompanionBundleOptions {
  readonly source: BundleSource;
  /**
   * Where the Settings screen's bundle goes: Electron asks with a save dialog (which
   * asks before replacing a file), web mode names a new file in its data folder. Null:
   * the person cancelled.
   */
  chooseTarget(defaultName: string): Promise<{ path: string; replace: boolean } | null>;
  /** This process's recent logs, if it keeps any, and where its logs go. */
  recentLogs?(): { files: BundleLog[]; note: string };
}

/** What the companion holds when a bundle is made. */
export interface CompanionBundleState {
  readonly engine: Engine | undefined;
  readonly problem: string | null;
  /** The connection in force: saved settings over the environment's defaults, the key included (redacted). */
  readonly inForce: Record<string, unknown> & { terminalId?: string | undefined; centralUrl?: string | undefined; databasePath?: string | undefined; apiKey?: string | undefined };
  readonly saved: StoredSettings;
  readonly defaults: CompanionDefaults | undefined;
}

const STDOUT_NOTE = 'the companion writes its logs as JSON lines (pino) to standard output and keeps no log file on disk';

/** Builds this till's bundle and writes it at `path` (`replace`: an existing file may be replaced). */
export async function writeCompanionBundle(state: CompanionBundleState, opts: CompanionBundleOptions | undefined, path: string, replace: boolean): Promise<SavedSupportBundle> {
  const { engine, inForce } = state;
  const logs = opts?.recentLogs?.() ?? { files: [], note: `${STDOUT_NOTE}; none are included` };
  const ready = inForce.centralUrl && inForce.apiKey && inForce.databasePath;
  const bundle = await buildSupportBundle({
    source: opts?.source ?? 'companion',
    engine: engine ? { store: engine.store, status: () => engine.service.status() } : undefined,
    engineProblem: state.problem,
    terminalId: inForce.terminalId ?? engine?.store.base.getMeta('terminal_id') ?? null,
    settings: { inForce, saved: state.saved, environmentDefaults: state.defaults ?? {} },
    secrets: [inForce.apiKey, state.saved.supervisorPinHash, state.defaults?.apiKey],
    appVersion: engine?.service.config.appVersion ?? DEFAULT_SYNC_CONFIG.appVersion,
    parity: ready
      ? centralParity({ databasePath: String(inForce.databasePath), centralUrl: String(inForce.centralUrl), apiKey: String(inForce.apiKey) })
      : 'schema parity not checked: the central URL, terminal key and POS database are not all set',
    logs,
  });
  const written = writeBundleFile(path, bundle.archive, { force: replace });
  return {
    saved: true,
    path: written,
    files: bundle.manifest.files.length + 1,
    bytes: bundle.archive.length,
    problems: bundle.manifest.problems.map((p) => `${p.section}: ${p.message}`),
  };
}

export { STDOUT_NOTE as COMPANION_LOGS_NOTE };
