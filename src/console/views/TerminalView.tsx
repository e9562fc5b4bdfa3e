import { age, lag, money, seen, skew } from '../format.js';
import { useAction, useLoad } from '../hooks.js';
import { concerns } from '../live.js';
import { AuditSection } from './AuditSection.js';
import { AttentionBadges, ErrorBanner, OutcomeLine, StatusText, triggeredText } from './parts.js';
import { UpdateTarget } from './UpdateTarget.js';

/** One till: its fleet row, what its heartbeat reported per table, its latest runs with their errors, and "Sync now". */
export function TerminalView({ terminalId, back }: { terminalId: string; back: () => void }) {
  const d = useLoad((api) => api.terminal(terminalId), terminalId, (news) => concerns(news, terminalId));
  const [outcome, busy, run] = useAction();
  const t = d.data;
  // Tables with something waiting, failed or in conflict first; then by name.
  const quiet = (c: { pending: number; failed: number; conflicts: number }) => (c.pending + c.failed + c.conflicts > 0 ? 1 : 0);
  const tables = t ? Object.entries(t.tables).sort((a, b) => quiet(a[1]) - quiet(b[1]) || a[0].localeCompare(b[0])) : [];
  return (
    <section aria-labelledby="terminal-title">
      <div className="row spread">
        <h2 id="terminal-title">
          Till {t?.name ?? terminalId} {t && t.name !== terminalId ? <span className="mono small muted">{terminalId}</span> : null}
        </h2>
        <div className="row">
          <button type="button" className="primary" disabled={busy || t?.disabled === true} onClick={() => void run(async (api) => triggeredText((await api.syncNow({ terminalId })).triggered))}>
            Sync now
          </button>
          <button type="button" onClick={back}>
            Back to the fleet
          </button>
        </div>
      </div>
      <OutcomeLine outcome={outcome} testId="terminal-result" />
      <ErrorBanner error={d.error} />
      {t ? (
        <>
          <dl className="facts" data-testid="terminal-facts">
            <div>
              <dt>Status</dt>
              <dd>
                <StatusText status={t.status} /> {t.connected ? <span className="small muted">· socket connected</span> : null}
              </dd>
            </div>
            <div>
              <dt>Store</dt>
              <dd className="mono">{t.storeId}</dd>
            </div>
            <div>
              <dt>Last seen</dt>
              <dd>{seen(t.lastSeenAt)}</dd>
            </div>
            <div>
              <dt>Last sync</dt>
              <dd>{seen(t.lastSyncAt)}</dd>
            </div>
            <div>
              <dt>Unsynced sales</dt>
              <dd data-testid="terminal-unsynced" className={t.unsyncedSalesCount > 0 ? 'bad' : undefined}>
                {money(t.unsyncedSalesTotal, t.currency)} ({t.unsyncedSalesCount})
              </dd>
            </div>
            <div>
              <dt>Oldest pending</dt>
              <dd>{age(t.oldestPendingSeconds)}</dd>
            </div>
            <div>
              <dt>Clock</dt>
              <dd>{skew(t.clockSkewMs)}</dd>
            </div>
            <div>
              <dt>Pull lag</dt>
              <dd>{lag(t.pullLagSeconds)}</dd>
            </div>
            <div>
              <dt>Version</dt>
              <dd className="small">
                {t.appVersion ?? '—'}
                <UpdateTarget terminalId={terminalId} appVersion={t.appVersion} /> {t.schemaVersion ? <span className="muted">(schema {t.schemaVersion})</span> : null}
              </dd>
            </div>
            <div className="wide">
              <dt>Attention</dt>
              <dd>
                <AttentionBadges reasons={t.attention} />
              </dd>
            </div>
          </dl>

          <AuditSection terminalId={terminalId} disabled={t.disabled} />

          <h3>Tables</h3>
          {tables.length === 0 ? (
            <p className="muted">The till has not reported its tables yet.</p>
          ) : (
            <div className="table-wrap">
              <table className="grid" data-testid="terminal-tables">
                <thead>
                  <tr>
                    <th scope="col">Table</th>
                    <th scope="col" className="num">Pending</th>
                    <th scope="col" className="num">Failed</th>
                    <th scope="col" className="num">Conflicts</th>
                    <th scope="col" className="num">Synced</th>
                  </tr>
                </thead>
                <tbody>
                  {tables.map(([name, c]) => (
                    <tr key={name} data-table={name}>
                      <th scope="row">{name}</th>
                      <td data-col="pending" className={c.pending > 0 ? 'num waiting' : 'num'}>
                        {c.pending}
                      </td>
                      <td data-col="failed" className={c.failed > 0 ? 'num bad' : 'num'}>
                        {c.failed}
                      </td>
                      <td data-col="conflicts" className={c.conflicts > 0 ? 'num bad' : 'num'}>
                        {c.conflicts}
                      </td>
                      <td data-col="synced" className="num">
                        {c.synced}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}

          <h3>Recent runs</h3>
          {t.recentRuns.length === 0 ? (
            <p className="muted">No run reported yet.</p>
          ) : (
            <div className="table-wrap">
              <table className="grid" data-testid="terminal-runs">
                <thead>
                  <tr>
                    <th scope="col">Started</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Trigger</th>
                    <th scope="col" className="num">Pushed</th>
                    <th scope="col" className="num">Pulled</th>
                    <th scope="col" className="num">Conflicts</th>
                    <th scope="col" className="num">Failed</th>
                    <th scope="col">Errors</th>
                  </tr>
                </thead>
                <tbody>
                  {t.recentRuns.map((r, i) => (
                    <tr key={`${r.startedAt}-${i}`} className={r.errors.length > 0 ? 'needs-attention' : undefined}>
                      <td>
                        {seen(r.startedAt)}
                        {r.finishedAt === null ? <span className="small muted"> · running</span> : null}
                      </td>
                      <td>{r.kind}</td>
                      <td className="small">{r.trigger}</td>
                      <td className="num">{r.pushed}</td>
                      <td className="num">{r.pulled}</td>
                      <td className="num">{r.conflicts}</td>
                      <td className={r.failed > 0 ? 'num bad' : 'num'}>{r.failed}</td>
                      <td className="errors">
                        {r.errors.length === 0 ? (
                          <span className="muted">—</span>
                        ) : (
                          <ul>
                            {r.errors.map((e, j) => (
                              <li key={j}>{e}</li>
                            ))}
                          </ul>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : d.loading ? (
        <p className="muted">Loading the till…</p>
      ) : null}
    </section>
  );
}
