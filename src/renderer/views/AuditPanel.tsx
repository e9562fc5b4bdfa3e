import { useState } from 'react';
import type { AuditReport, AuditTableReport } from '../../shared/audit-protocol.js';
import { useApp } from '../hooks.js';

const KIND: Record<string, string> = {
  missing_at_till: 'missing on this till',
  missing_at_central: 'missing at HQ',
  different_content: 'different content',
  different_version: 'different version',
};

function summary(r: AuditReport): string {
  const compared = r.tables.filter((t) => t.outcome !== 'not_compared');
  if (r.inStep) return `In step with HQ: ${compared.length} tables compared in ${r.durationMs} ms`;
  const rows = compared.reduce((n, t) => n + t.differencesTotal, 0);
  const failed = compared.filter((t) => t.outcome === 'failed').length;
  return `Not in step: ${rows} ${rows === 1 ? 'row differs' : 'rows differ'}${failed > 0 ? `, ${failed} ${failed === 1 ? 'table' : 'tables'} could not be audited` : ''}`;
}

function outcome(t: AuditTableReport): string {
  if (t.outcome === 'in_step') return 'in step';
  if (t.outcome === 'failed') return `failed: ${t.reason ?? ''}`;
  return `${t.differencesTotal} ${t.differencesTotal === 1 ? 'row differs' : 'rows differ'}`;
}

/**
 * The convergence audit on the Status screen: a button that compares this till's synced
 * rows with HQ's (the `audit:run` channel, as `tillsync audit`) and the result per table,
 * with each differing row.
 */
export function AuditPanel() {
  const runAudit = useApp((s) => s.runAudit);
  const disabled = useApp((s) => s.status === null);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<AuditReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await runAudit();
      if (r.ok) setReport(r.value);
      else {
        setReport(null);
        setError(r.error.message);
      }
    } finally {
      setBusy(false);
    }
  };
  const compared = report?.tables.filter((t) => t.outcome !== 'not_compared') ?? [];
  const skipped = report?.tables.filter((t) => t.outcome === 'not_compared') ?? [];
  return (
    <section className="audit" aria-labelledby="audit-title" data-testid="audit">
      <div className="row">
        <h3 id="audit-title">Audit</h3>
        <button type="button" className="control" onClick={() => void run()} disabled={busy || disabled} aria-busy={busy} title="Compare this till's synced rows with HQ's, table by table">
          {busy ? 'Auditing…' : 'Audit against HQ'}
        </button>
      </div>
      {error ? (
        <p className="result bad" role="status" data-testid="audit-result">
          Audit failed: {error}
        </p>
      ) : null}
      {report ? (
        <>
          <p className={report.inStep ? 'result ok' : 'result bad'} role="status" data-testid="audit-result">
            {summary(report)}
          </p>
          <div className="table-wrap">
            <table className="grid" data-testid="audit-tables">
              <caption className="visually-hidden">Audit per table</caption>
              <thead>
                <tr>
                  <th scope="col">Table</th>
                  <th scope="col">Result</th>
                  <th scope="col" className="num">Rows here</th>
                  <th scope="col" className="num">Rows at HQ</th>
                  <th scope="col" className="num">Not sent yet</th>
                </tr>
              </thead>
              {compared.map((t) => (
                <tbody key={t.table} data-audit-table={t.table} className={t.outcome === 'in_step' ? undefined : 'attention'}>
                  <tr>
                    <th scope="row">{t.table}</th>
                    <td className={t.outcome === 'in_step' ? undefined : 'bad'} data-col="outcome">
                      {outcome(t)}
                    </td>
                    <td className="num">{t.tillRows}</td>
                    <td className="num">{t.centralRows}</td>
                    <td className="num">{t.pending + t.unsent}</td>
                  </tr>
                  {t.differences.map((d) => (
                    <tr key={d.id} data-audit-row={d.id}>
                      <td />
                      <td colSpan={4} className="wrap">
                        {KIND[d.kind] ?? d.kind}: {d.id}
                      </td>
                    </tr>
                  ))}
                </tbody>
              ))}
            </table>
          </div>
          {[...new Set(skipped.map((t) => t.reason ?? ''))].map((reason) => (
            <p key={reason} className="muted" data-testid="audit-skipped">
              Not compared: {skipped.filter((t) => (t.reason ?? '') === reason).map((t) => t.table).join(', ')} ({reason})
            </p>
          ))}
        </>
      ) : null}
    </section>
  );
}
