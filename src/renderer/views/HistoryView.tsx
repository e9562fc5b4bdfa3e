import { useMemo, useState } from 'react';
import { when } from '../format.js';
import { useApp } from '../hooks.js';

const KINDS = ['all', 'FULL', 'INCREMENTAL', 'CRITICAL'] as const;

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
      <div className="table-wrap">
        <table className="grid" data-testid="history">
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
            {shown.map((h) => (
              <tr key={h.id} className={h.errors.length > 0 || h.failed > 0 ? 'attention' : undefined}>
                <td>{when(h.startedAt)}</td>
                <td>{h.kind.toLowerCase()}</td>
                <td>{h.trigger}</td>
                <td className="num">{h.pushed}</td>
                <td className="num">{h.pulled}</td>
                <td className="num">{h.conflicts}</td>
                <td className="num">{h.failed}</td>
                <td className="wrap">{h.errors.join('; ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
