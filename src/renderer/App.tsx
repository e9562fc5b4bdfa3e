import { useEffect, useMemo } from 'react';
import { trayView } from '../shared/tray-state.js';
import { useApp, useNow } from './hooks.js';
import { VIEWS, type View } from './store.js';
import { ConflictsView } from './views/ConflictsView.js';
import { HistoryView } from './views/HistoryView.js';
import { SettingsView } from './views/SettingsView.js';
import { StatusView } from './views/StatusView.js';

const LABELS: Record<View, string> = { status: 'Status', conflicts: 'Conflicts', history: 'History', settings: 'Settings' };

/**
 * The headline the tray shows, on every screen. While something waits its age ticks
 * (a timer here, no engine calls); screen readers hear the headline when the status
 * changes, not every tick.
 */
function Headline() {
  const status = useApp((s) => s.status);
  const setupProblem = useApp((s) => s.setupProblem);
  const waiting = (status?.totals.pending ?? 0) > 0 && status?.oldestPendingAt != null;
  const now = useNow(waiting);
  const idle = setupProblem ? 'Not running' : 'Connecting…';
  const tray = status ? trayView(status, now) : null;
  const announced = useMemo(() => (status ? trayView(status, Date.now()).headline : idle), [status, idle]);
  return (
    <>
      <p className={`pill state-${tray?.state ?? 'unset'}`} data-testid="headline" data-state={tray?.state ?? 'unset'}>
        {tray ? tray.headline : idle}
      </p>
      <span className="visually-hidden" role="status" aria-atomic="true">
        {announced}
      </span>
    </>
  );
}

export function App() {
  const view = useApp((s) => s.view);
  const setView = useApp((s) => s.setView);
  const start = useApp((s) => s.start);
  const status = useApp((s) => s.status);
  const setupProblem = useApp((s) => s.setupProblem);
  const bridgeError = useApp((s) => s.bridgeError);
  const conflicts = status?.totals.conflicts ?? 0;

  useEffect(() => start(), [start]);

  // Alt+1..4 switch screens from the keyboard.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!e.altKey || e.ctrlKey || e.metaKey) return;
      // By key position: on macOS Option+1 types '¡', but its code is still Digit1.
      const m = /^Digit([1-9])$/.exec(e.code);
      if (!m) return;
      const i = Number(m[1]) - 1;
      const target = VIEWS[i];
      if (target) {
        e.preventDefault();
        setView(target);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [setView]);

  return (
    <div className="app">
      <header className="top">
        <h1>TillSync</h1>
        <Headline />
      </header>
      <nav className="tabs" aria-label="Screens">
        {VIEWS.map((v, i) => (
          <button key={v} type="button" className={v === view ? 'tab active' : 'tab'} aria-current={v === view ? 'page' : undefined} onClick={() => setView(v)} title={`Alt+${i + 1}`}>
            {LABELS[v]}
            {v === 'conflicts' && conflicts > 0 ? <span className="badge" aria-label={`${conflicts} open`}>{conflicts}</span> : null}
          </button>
        ))}
      </nav>
      {bridgeError ? (
        <p className="banner error" role="alert">
          {bridgeError}
        </p>
      ) : null}
      {setupProblem && view !== 'settings' ? (
        <p className="banner warn" role="alert" data-testid="setup-problem">
          {setupProblem}{' '}
          <button type="button" className="link" onClick={() => setView('settings')}>
            Open Settings
          </button>
        </p>
      ) : null}
      <main className="screen">
        {view === 'status' ? <StatusView /> : null}
        {view === 'conflicts' ? <ConflictsView /> : null}
        {view === 'history' ? <HistoryView /> : null}
        {view === 'settings' ? <SettingsView /> : null}
      </main>
    </div>
  );
}
