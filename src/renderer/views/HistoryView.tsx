import { Fragment, useMemo, useState } from 'react';
import { when } from '../format.js';
import { useApp } from '../hooks.js';

const KINDS = ['all', 'FULL', 'INCREMENTAL', 'CRITICAL'] as const;

/** A trigger such as "trigger:SERVER_RESTART", which may wrap after its colons and nowhere else. */
function Breakable({ text }: { text: string }) {
  const parts = text.split(/(?<=:)/);
  return (
    <>
      {parts.map((p, i) => (
        <Fragment key={i}>
          {i > 0 ? <wbr /> : null}
          {p}
        </Fragment>
      ))}
    </>
  );
}

export function HistoryView() {
  const history = useApp((s) => s.history);
  const load = useApp((s) => s.loadHistory);
  const [kind, setKind] = useState<(typeof KINDS)[number]>('all');
  const [errorsOnly, setErrorsOnly] = useState(false);
  const [text, setText] = useState('');
  const shown = useMemo(() => {
    const q = text.trim().toLowerCase();
    return history.filter(
      (h) =>
        (kind === 'all' || h.kind === kind) &&
        (!errorsOnly || h.errors.length > 0 || h.failed > 0) &&
        (q === '' || h.trigger.toLowerCase().includes(q) || h.errors.some((e) => e.toLowerCase().includes(q))),
    );
  }, [history, kind, errorsOnly, text]);

  return (
    <section aria-labelledby="history-title">
      <div className="row spread">
        <h2 id="history-title">History</h2>
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <div className="row filters" role="group" aria-label="Filter">
        <label>
          Kind{' '}
          <select value={kind} onChange={(e) => setKind(e.target.value as (typeof KINDS)[number])}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k === 'all' ? 'All runs' : k.toLowerCase()}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={errorsOnly} onChange={(e) => setErrorsOnly(e.target.checked)} /> Only with errors
        </label>
        <label>
          Search <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="trigger or error" />
        </label>
      </div>
      <p className="muted" data-testid="history-count">
        {shown.length} of {history.length} runs
      </p>
      {/* One body per run: its counts on one line, its errors (if any) on a line of their own below,
          the width of the table, so nothing is squeezed into a narrow last column on a small screen. */}
      <div className="table-wrap">
        <table className="grid history-grid" data-testid="history">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Kind</th>
              <th scope="col">Trigger</th>
              <th scope="col" className="num">Pushed</th>
              <th scope="col" className="num">Pulled</th>
              <th scope="col" className="num">Conflicts</th>
              <th scope="col" className="num">Failed</th>
            </tr>
          </thead>
          {shown.map((h) => (
            <tbody key={h.id} data-run={h.id} className={h.errors.length > 0 || h.failed > 0 ? 'run attention' : 'run'}>
              <tr>
                <td>{when(h.startedAt)}</td>
                <td>{h.kind.toLowerCase()}</td>
                <td data-col="trigger">
                  <Breakable text={h.trigger} />
                </td>
                <td className="num">{h.pushed}</td>
                <td className="num">{h.pulled}</td>
                <td className="num">{h.conflicts}</td>
                <td className="num">{h.failed}</td>
              </tr>
              {h.errors.length > 0 ? (
                <tr className="run-errors">
                  <td colSpan={7}>
                    <span className="visually-hidden">Errors: </span>
                    <span className="wrap" data-col="errors">
                      {h.errors.join('; ')}
                    </span>
                  </td>
                </tr>
              ) : null}
            </tbody>
          ))}
        </table>
      </div>
    </section>
  );
}
