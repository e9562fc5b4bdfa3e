import type { AuditTableReport } from '../../shared/audit-protocol.js';
import { seen } from '../format.js';
import { useAction, useLoad } from '../hooks.js';
import { concerns } from '../live.js';
import { ErrorBanner, OutcomeLine } from './parts.js';

const KIND_LABELS: Record<AuditTableReport['differences'][number]['kind'], string> = {
  missing_at_till: 'missing at the till',
  missing_at_central: 'missing at HQ',
  different_content: 'different content',
  different_version: 'different version',
};

const differ = (n: number): string => (n === 1 ? '1 row differs' : `${n} rows differ`);

/** A till's latest convergence audit (as it reported it) and "Audit now": the till syncs, audits and reports. */
export function AuditSection({ terminalId, disabled }: { terminalId: string; disabled: boolean }) {
  const a = useLoad((api) => api.lastAudit(terminalId), `audit:${terminalId}`, (news) => concerns(news, terminalId));
  const [outcome, busy, run] = useAction();
  const report = a.data?.report ?? null;
  const differing = report ? report.tables.filter((t) => t.outcome === 'differs' || t.outcome === 'failed') : [];
  return (
    <section aria-labelledby="audit-title" data-testid="terminal-audit">
      <div className="row spread">
        <h3 id="audit-title">Convergence audit</h3>
        <button
          type="button"
          disabled={busy || disabled}
          onClick={() =>
            void run(async (api) =>
              (await api.auditNow(terminalId)).triggered.length > 0
                ? 'Audit requested: the till syncs, compares its rows with HQ and reports here.'
                : 'The till is not active: no audit requested.',
            )
          }
        >
          Audit now
        </button>
      </div>
      <OutcomeLine outcome={outcome} testId="audit-result" />
      <ErrorBanner error={a.error} />
      {report === null ? (
        <p className="muted">{a.loading ? 'Loading…' : 'No audit reported yet.'}</p>
      ) : (
        <>
          <p data-testid="audit-verdict" className={report.inStep ? 'ok' : 'bad'}>
            {report.inStep ? 'In step with HQ' : differ(differing.reduce((n, t) => n + t.differencesTotal, 0))} · audited {seen(report.startedAt)} in{' '}
            {(report.durationMs / 1000).toFixed(1)} s, {report.tables.filter((t) => t.outcome !== 'not_compared').length} tables compared
          </p>
          {differing.length > 0 ? (
            <div className="table-wrap">
              <table className="grid" data-testid="audit-differences">
                <thead>
                  <tr>
                    <th scope="col">Table</th>
                    <th scope="col">Row</th>
                    <th scope="col">What differs</th>
                    <th scope="col" className="num">Till version</th>
                    <th scope="col" className="num">HQ version</th>
                  </tr>
                </thead>
                <tbody>
                  {differing.flatMap((t) =>
                    t.outcome === 'failed'
                      ? [
                          <tr key={t.entityType}>
                            <th scope="row">{t.table}</th>
                            <td colSpan={4} className="bad">
                              not finished: {t.reason}
                            </td>
                          </tr>,
                        ]
                      : t.differences.map((d) => (
                          <tr key={`${t.entityType}:${d.id}`} data-row={d.id}>
                            <th scope="row">{t.table}</th>
                            <td className="mono small">{d.id}</td>
                            <td>{KIND_LABELS[d.kind]}</td>
                            <td className="num">{d.tillVersion ?? '—'}</td>
                            <td className="num">{d.centralVersion ?? '—'}</td>
                          </tr>
                        )),
                  )}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
