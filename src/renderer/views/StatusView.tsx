import { formatAge, oldestAgeMs } from '../../shared/tray-state.js';
import { useApp, useNow } from '../hooks.js';
import { ago, when } from '../format.js';
import type { Action } from '../store.js';
import { AuditPanel } from './AuditPanel.js';

const CONNECTION: Record<string, string> = { online: 'Online', offline: 'Offline', connecting: 'Connecting' };

function Control({ action, label, hint }: { action: Action; label: string; hint: string }) {
  const busy = useApp((s) => s.busy[action] ?? false);
  const run = useApp((s) => s.run);
  const disabled = useApp((s) => s.status === null);
  return (
    <button type="button" className="control" onClick={() => void run(action)} disabled={busy || disabled} aria-busy={busy} title={hint}>
      {busy ? `${label}…` : label}
    </button>
  );
}

/** A time in a table cell: how long ago (it keeps moving), the exact time in its title. */
function Ago({ iso, now }: { iso: string | null; now: number }) {
  return iso ? (
    <time dateTime={iso} title={when(iso)}>
      {ago(iso, now)}
    </time>
  ) : (
    <>never</>
  );
}

/**
 * How many changes wait to reach central, and how old the oldest is (ticking while
 * something waits, from the status the engine last sent; no engine calls).
 */
function WaitingFact() {
  const status = useApp((s) => s.status);
  const pending = status?.totals.pending ?? 0;
  const now = useNow(pending > 0 && status?.oldestPendingAt != null);
  const age = status ? oldestAgeMs(status, now) : null;
  return (
    <div className={pending > 0 ? 'fact-waiting' : undefined}>
      <dt>Waiting for HQ</dt>
      <dd data-testid="total-pending" className="big">
        {pending}
      </dd>
      <dd data-testid="oldest-pending" className={pending > 0 ? 'age' : 'age muted'}>
        {pending === 0 ? 'nothing waits' : age === null ? 'waiting' : `oldest ${formatAge(age)}`}
      </dd>
    </div>
  );
}

export function StatusView() {
  const status = useApp((s) => s.status);
  const result = useApp((s) => s.result);
  const now = useNow(status !== null);
  if (!status) return <p className="muted">No engine status yet.</p>;
  const tables = Object.entries(status.tables).sort(([a], [b]) => a.localeCompare(b));
  const a = status.activity;
  return (
    <section aria-labelledby="status-title">
      <h2 id="status-title" className="visually-hidden">
        Status
      </h2>
      <dl className="facts">
        <div>
          <dt>Connection</dt>
          {/* Paused needs a supervisor's attention: amber, whatever the connection. */}
          <dd data-testid="connection" className={`conn conn-${status.paused ? 'paused' : status.connection}`}>
            {CONNECTION[status.connection]}
            {status.paused ? ' · paused' : ''}
          </dd>
        </div>
        <div>
          <dt>Terminal</dt>
          <dd data-testid="terminal-id">{status.terminalId}</dd>
        </div>
        {/* Never broken inside the host and port: one line, the whole URL in the title when it does not fit. */}
        <div className="fact-wide">
          <dt>Central</dt>
          <dd className="url" data-testid="central-url" title={status.centralUrl}>
            {status.centralUrl}
          </dd>
        </div>
        <div>
          <dt>Last sync</dt>
          <dd data-testid="last-sync">{when(status.lastSyncAt)}</dd>
        </div>
        <WaitingFact />
        <div>
          <dt>Synced</dt>
          <dd data-testid="total-synced" className="big">{status.totals.synced}</dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd data-testid="total-failed" className={status.totals.failed > 0 ? 'big bad' : 'big'}>{status.totals.failed}</dd>
        </div>
        <div>
          <dt>Conflicts</dt>
          <dd data-testid="total-conflicts" className={status.totals.conflicts > 0 ? 'big bad' : 'big'}>{status.totals.conflicts}</dd>
        </div>
      </dl>
      <div className="activity" data-testid="activity" aria-live="polite">
        {a ? (
          <>
            <span>
              {a.kind === 'FULL' ? 'Full sync' : a.kind === 'CRITICAL' ? 'Sending sales' : 'Syncing'}
              {a.table ? ` · ${a.table}` : ''} · pushed {a.pushed}, pulled {a.pulled}
            </span>
            <progress aria-label="Sync in progress" />
          </>
        ) : (
          <span className="muted">Idle</span>
        )}
      </div>
      {status.lastError ? (
        <p className="banner warn" data-testid="last-error">
          Last error: {status.lastError}
        </p>
      ) : null}
      <div className="controls" role="group" aria-label="Sync controls">
        <Control action="now" label="Sync now" hint="Push and pull what changed" />
        <Control action="full" label="Full sync" hint="Every table, every tier" />
        {status.paused ? <Control action="resume" label="Resume" hint="Start syncing again" /> : <Control action="pause" label="Pause" hint="Stop pushing and pulling until resumed" />}
        <Control action="retry" label="Retry failed" hint="Send failed changes again" />
      </div>
      {result ? (
        <p className={result.ok ? (result.warn ? 'result warn' : 'result ok') : 'result bad'} data-testid="control-result" role="status">
          {result.text}
        </p>
      ) : null}
      <div className="table-wrap">
        <table className="grid" data-testid="tables">
          <caption className="visually-hidden">Per table</caption>
          <thead>
            <tr>
              <th scope="col">Table</th>
              <th scope="col" className="num">Waiting</th>
              <th scope="col" className="num">Failed</th>
              <th scope="col" className="num">Synced</th>
              <th scope="col" className="num">Conflicts</th>
              <th scope="col">Last push</th>
              <th scope="col">Last pull</th>
            </tr>
          </thead>
          <tbody>
            {tables.map(([name, t]) => (
              <tr key={name} data-table={name} className={t.failed > 0 || t.conflicts > 0 || t.paused ? 'attention' : undefined}>
                <th scope="row">
                  {name}
                  {t.paused ? <span className="tag" title={t.paused}>paused</span> : null}
                </th>
                <td className={t.pending > 0 ? 'num waiting' : 'num'} data-col="pending">
                  {t.pending}
                </td>
                <td className="num" data-col="failed">{t.failed}</td>
                <td className="num" data-col="synced">{t.synced}</td>
                <td className="num" data-col="conflicts">{t.conflicts}</td>
                <td className="age-cell">
                  <Ago iso={t.lastPushAt} now={now} />
                </td>
                <td className="age-cell">
                  <Ago iso={t.lastPullAt} now={now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <AuditPanel />
    </section>
  );
}
