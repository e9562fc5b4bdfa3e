import { useState } from 'react';
import { byField, byWeek, resolutionLabel } from '../format.js';
import { useLoad } from '../hooks.js';
import { ErrorBanner } from './parts.js';

const RANGES = [4, 12, 26, 52] as const;

/** A CSS class per resolution, so a bar's parts read the same everywhere. */
const resClass = (r: string | null) => `res-${(r ?? 'open').toLowerCase().replace(/[^a-z]+/g, '-')}`;

/** Which tables and fields conflict, how they were resolved, per week. Bars in plain CSS. */
export function AnalyticsView() {
  const [weeks, setWeeks] = useState<number>(12);
  // Conflicts are counted per week: a heartbeat changes nothing here (reload or switch views to read again).
  const a = useLoad((api) => api.analytics(weeks), String(weeks), () => false);
  const fields = a.data ? byField(a.data.weeks) : [];
  const perWeek = a.data ? byWeek(a.data.weeks) : [];
  const most = Math.max(1, ...fields.map((f) => f.total));
  const resolutions = [...new Set(fields.flatMap((f) => f.byResolution.map((r) => r.resolution)))];

  return (
    <section aria-labelledby="analytics-title">
      <div className="row spread">
        <h2 id="analytics-title">Conflict analytics</h2>
        <label className="field-inline">
          Range{' '}
          <select value={weeks} onChange={(e) => setWeeks(Number(e.target.value))} aria-label="Range">
            {RANGES.map((w) => (
              <option key={w} value={w}>
                last {w} weeks
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner error={a.error} />
      {a.data ? (
        <>
          <p className="muted" data-testid="analytics-summary">
            {a.data.conflicts === 1 ? '1 conflict' : `${a.data.conflicts} conflicts`} in the last {weeks} weeks
            {a.data.truncated ? ' (the newest ones: there were more)' : ''}. A conflict counts once for each field the till and HQ disagreed on.
          </p>
          {fields.length === 0 ? (
            <p className="muted" data-testid="analytics-empty">
              No conflict in this range.
            </p>
          ) : (
            <>
              <h3>By table and field</h3>
              <ul className="legend" aria-label="Resolutions">
                {resolutions.map((r) => (
                  <li key={String(r)}>
                    <span className={`swatch ${resClass(r)}`} aria-hidden="true" /> {resolutionLabel(r)}
                  </li>
                ))}
              </ul>
              <table className="grid bars" data-testid="analytics-fields">
                <thead>
                  <tr>
                    <th scope="col">Table</th>
                    <th scope="col">Field</th>
                    <th scope="col" className="num">Count</th>
                    <th scope="col">How they were resolved</th>
                  </tr>
                </thead>
                <tbody>
                  {fields.map((f) => (
                    <tr key={`${f.entityType}.${f.field}`} data-entity={f.entityType} data-field={f.field}>
                      <th scope="row">{f.entityType}</th>
                      <td className="mono">{f.field}</td>
                      <td className="num">{f.total}</td>
                      <td>
                        <div className="bar" style={{ width: `${(100 * f.total) / most}%` }} role="img" aria-label={f.byResolution.map((r) => `${r.count} ${resolutionLabel(r.resolution)}`).join(', ')}>
                          {f.byResolution.map((r) => (
                            <span key={String(r.resolution)} className={`bar-part ${resClass(r.resolution)}`} style={{ flexGrow: r.count }} title={`${r.count} ${resolutionLabel(r.resolution)}`} />
                          ))}
                        </div>
                        <span className="small" data-testid="resolutions">
                          {f.byResolution.map((r) => `${r.count} ${resolutionLabel(r.resolution)}`).join(' · ')}
                        </span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>

              <h3>Per week</h3>
              <table className="grid" data-testid="analytics-weeks">
                <thead>
                  <tr>
                    <th scope="col">Week of</th>
                    <th scope="col">Table</th>
                    <th scope="col">Field</th>
                    <th scope="col">Resolution</th>
                    <th scope="col" className="num">Count</th>
                  </tr>
                </thead>
                <tbody>
                  {perWeek.flatMap((w) =>
                    w.rows.map((r, i) => (
                      <tr key={`${w.weekStart}-${r.entityType}-${r.field}-${String(r.resolution)}`} className={i === 0 ? 'week-first' : undefined}>
                        {i === 0 ? (
                          <th scope="rowgroup" rowSpan={w.rows.length}>
                            {w.weekStart}
                            <div className="small muted">{w.total} in all</div>
                          </th>
                        ) : null}
                        <td>{r.entityType}</td>
                        <td className="mono">{r.field}</td>
                        <td>{resolutionLabel(r.resolution)}</td>
                        <td className="num">{r.count}</td>
                      </tr>
                    )),
                  )}
                </tbody>
              </table>
            </>
          )}
        </>
      ) : a.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
    </section>
  );
}
