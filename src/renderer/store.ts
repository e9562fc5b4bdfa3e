/**
 * The UI's state (zustand): the engine's status as it arrives in events, the result
 * of each control, conflicts, history and settings, all loaded through the bridge.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type {
  ConflictView,
  EngineStatus,
  HistoryEntry,
  IpcError,
  IpcResult,
  SavedSupportBundle,
  SettingsPatch,
  SettingsView,
  SyncRunResult,
  TillSyncBridge,
} from '../shared/ipc.js';
import type { AuditReport } from '../shared/audit-protocol.js';
import { plural } from './format.js';

export const VIEWS = ['status', 'conflicts', 'history', 'settings'] as const;
export type View = (typeof VIEWS)[number];
export type Action = 'now' | 'full' | 'pause' | 'resume' | 'retry';

export interface ControlResult {
  readonly ok: boolean;
  /** Done, and what it left needs attention (sync paused): shown amber, not green. */
  readonly warn?: boolean;
  readonly text: string;
  readonly at: string;
}

export interface AppState {
  readonly view: View;
  readonly status: EngineStatus | null;
  /** Why the engine is not running (not set up, or a setting it cannot start with). */
  readonly setupProblem: string | null;
  /** The bridge itself failed (web mode lost the companion). */
  readonly bridgeError: string | null;
  readonly busy: Partial<Record<Action, boolean>>;
  readonly result: ControlResult | null;
  readonly lastRun: SyncRunResult | null;
  readonly conflicts: ConflictView[];
  readonly conflictFilter: 'open' | 'all';
  readonly selectedConflict: string | null;
  readonly history: HistoryEntry[];
  readonly settings: SettingsView | null;

  setView(view: View): void;
  refreshStatus(): Promise<void>;
  run(action: Action): Promise<void>;
  loadConflicts(filter?: 'open' | 'all'): Promise<void>;
  selectConflict(id: string | null): void;
  resolve(args: { conflictId: string; resolution: 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE'; resolvedData?: Record<string, unknown>; pin: string }): Promise<IpcResult<unknown>>;
  loadHistory(): Promise<void>;
  loadSettings(): Promise<void>;
  saveSettings(patch: SettingsPatch): Promise<IpcResult<SettingsView>>;
  /** Saves a support bundle (Electron asks where; web mode writes it into its data folder). */
  saveSupportBundle(): Promise<IpcResult<SavedSupportBundle>>;
  /** Runs the convergence audit (this till's synced rows against central's). */
  runAudit(): Promise<IpcResult<AuditReport>>;
  /** Subscribes to the engine's events and loads the first status; returns the unsubscribe. */
  start(): () => void;
}

export function describeRun(r: SyncRunResult): string {
  const parts = [`pushed ${r.pushed}`, `pulled ${r.pulled}`];
  if (r.conflicts > 0) parts.push(plural(r.conflicts, 'conflict'));
  if (r.failed > 0) parts.push(`${r.failed} failed`);
  const base = `${parts.join(', ')} in ${Math.round(r.durationMs)} ms`;
  return r.errors.length > 0 ? `${base}; ${r.errors[0]}` : base;
}

const now = () => new Date().toISOString();

export function createAppStore(bridge: TillSyncBridge): StoreApi<AppState> {
  return createStore<AppState>()((set, get) => {
    /** A transport failure is the bridge's problem; NOT_CONFIGURED is the setup's. */
    const failed = (error: IpcError) => {
      if (error.code === 'TRANSPORT') set({ bridgeError: `Lost contact with the TillSync companion: ${error.message}` });
      if (error.code === 'NOT_CONFIGURED') set({ setupProblem: error.message, status: null });
    };

    const controls: Record<Action, () => Promise<ControlResult>> = {
      now: async () => {
        const r = await bridge['sync:now']();
        if (!r.ok) return (failed(r.error), { ok: false, text: `Sync failed: ${r.error.message}`, at: now() });
        return { ok: r.value.errors.length === 0, text: `Sync now: ${describeRun(r.value)}`, at: now() };
      },
      full: async () => {
        const r = await bridge['sync:full']();
        if (!r.ok) return (failed(r.error), { ok: false, text: `Full sync failed: ${r.error.message}`, at: now() });
        return { ok: r.value.errors.length === 0, text: `Full sync: ${describeRun(r.value)}`, at: now() };
      },
      pause: async () => {
        const r = await bridge['sync:pause']();
        if (!r.ok) return (failed(r.error), { ok: false, text: `Pause failed: ${r.error.message}`, at: now() });
        set({ status: r.value });
        return { ok: true, warn: true, text: 'Sync paused: sales stay on this till until you resume', at: now() };
      },
      resume: async () => {
        const r = await bridge['sync:resume']();
        if (!r.ok) return (failed(r.error), { ok: false, text: `Resume failed: ${r.error.message}`, at: now() });
        set({ status: r.value });
        return { ok: true, text: 'Sync resumed', at: now() };
      },
      retry: async () => {
        const r = await bridge['sync:retryFailed']();
        if (!r.ok) return (failed(r.error), { ok: false, text: `Retry failed: ${r.error.message}`, at: now() });
        return { ok: true, text: r.value.retried > 0 ? `Retrying ${plural(r.value.retried, 'failed change')}` : 'Nothing had failed', at: now() };
      },
    };

    /** Status events received so far (a status read answered after one of them is stale). */
    let statusEvents = 0;

    return {
      view: 'status',
      status: null,
      setupProblem: null,
      bridgeError: null,
      busy: {},
      result: null,
      lastRun: null,
      conflicts: [],
      conflictFilter: 'open',
      selectedConflict: null,
      history: [],
      settings: null,

      setView(view) {
        set({ view });
        if (view === 'conflicts') void get().loadConflicts();
        if (view === 'history') void get().loadHistory();
        if (view === 'settings') void get().loadSettings();
      },

      async refreshStatus() {
        // An answer read before a status event that has arrived since is older than what
        // is shown (the two come over different connections in web mode): it is dropped.
        const asked = statusEvents;
        const r = await bridge['sync:status']();
        if (r.ok) {
          if (asked === statusEvents) set({ status: r.value, setupProblem: null, bridgeError: null });
        } else failed(r.error);
      },

      async run(action) {
        if (get().busy[action]) return;
        set({ busy: { ...get().busy, [action]: true } });
        try {
          const result = await controls[action]();
          set({ result });
        } finally {
          set({ busy: { ...get().busy, [action]: false } });
        }
        if (action === 'retry' || action === 'now' || action === 'full') void get().refreshStatus();
      },

      async loadConflicts(filter = get().conflictFilter) {
        set({ conflictFilter: filter });
        const r = await bridge['conflict:list']({ status: filter });
        // A slower answer for a filter no longer shown is dropped.
        if (get().conflictFilter !== filter) return;
        if (r.ok) {
          const selected = get().selectedConflict;
          set({ conflicts: r.value, selectedConflict: selected && r.value.some((c) => c.conflictId === selected) ? selected : null });
        } else failed(r.error);
      },

      selectConflict(id) {
        set({ selectedConflict: id });
      },

      async resolve(args) {
        const r = await bridge['conflict:resolve'](args);
        if (r.ok) {
          set({ result: { ok: true, text: `Conflict resolved (${args.resolution.replace('_', ' ').toLowerCase()}); every till gets version ${r.value.version}`, at: now() }, selectedConflict: null });
          void get().loadConflicts();
          void get().refreshStatus();
        } else failed(r.error);
        return r;
      },

      async loadHistory() {
        const r = await bridge['history:list']({ limit: 200 });
        if (r.ok) set({ history: r.value });
        else failed(r.error);
      },

      async loadSettings() {
        const r = await bridge['settings:get']();
        if (r.ok) set({ settings: r.value });
        else failed(r.error);
      },

      async saveSettings(patch) {
        const r = await bridge['settings:set'](patch);
        if (r.ok) {
          set({ settings: r.value });
          void get().refreshStatus();
        } else failed(r.error);
        return r;
      },

      async saveSupportBundle() {
        const r = await bridge['app:saveSupportBundle']();
        if (!r.ok) failed(r.error);
        return r;
      },

      async runAudit() {
        const r = await bridge['audit:run']({});
        if (!r.ok) failed(r.error);
        return r;
      },

      start() {
        const offs = [
          bridge.on('statusChanged', (status) => {
            statusEvents++;
            set({ status, setupProblem: null, bridgeError: null });
          }),
          bridge.on('syncFinished', (run) => {
            set({ lastRun: run });
            if (get().view === 'history') void get().loadHistory();
            if (run.conflicts > 0 || get().view === 'conflicts') void get().loadConflicts();
          }),
          bridge.on('setupChanged', (s) => {
            set({ setupProblem: s.problem });
            if (s.configured) void get().refreshStatus();
            else set({ status: null });
          }),
        ];
        void get().refreshStatus();
        return () => offs.forEach((off) => off());
      },
    };
  });
}
