import { useEffect, useMemo, useState } from 'react';
import type { ConflictView } from '../../shared/ipc.js';
import { show, when } from '../format.js';
import { useApp } from '../hooks.js';
import { defaultChoice, fieldRows, mergedRow, type Choice } from '../merge.js';
import { PinDialog } from './PinDialog.js';

type Resolution = 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE';

export function ConflictsView() {
  const conflicts = useApp((s) => s.conflicts);
  const filter = useApp((s) => s.conflictFilter);
  const load = useApp((s) => s.loadConflicts);
  const selected = useApp((s) => s.selectedConflict);
  const select = useApp((s) => s.selectConflict);
  const openCount = useApp((s) => s.status?.totals.conflicts ?? 0);
  const result = useApp((s) => s.result);

  // New conflicts arrive with the status; the inbox follows.
  useEffect(() => {
    void load();
  }, [openCount, load]);

  const current = conflicts.find((c) => c.conflictId === selected);
  if (current) return <MergeEditor conflict={current} close={() => select(null)} />;
  return (
    <section aria-labelledby="conflicts-title">
      <div className="row spread">
        <h2 id="conflicts-title">Conflicts</h2>
        <label className="check">
          <input type="checkbox" checked={filter === 'all'} onChange={(e) => void load(e.target.checked ? 'all' : 'open')} /> Show resolved
        </label>
      </div>
      {result ? (
        <p className={result.ok ? 'result ok' : 'result bad'} role="status">
          {result.text}
        </p>
      ) : null}
      {conflicts.length === 0 ? (
        <p className="muted" data-testid="no-conflicts">
          No {filter === 'open' ? 'open ' : ''}conflicts. Edits made here and at HQ to the same record land here when they cannot be merged automatically.
        </p>
      ) : (
        <ul className="inbox" data-testid="conflict-inbox">
          {conflicts.map((c) => (
            <li key={c.conflictId}>
              <button type="button" className="inbox-item" onClick={() => select(c.conflictId)} disabled={c.status !== 'open'}>
                <strong>{c.entityType}</strong> <span className="mono">{c.entityId}</span>
                <span className="muted">
                  {' '}
                  · {c.status === 'open' ? 'open' : `resolved: ${c.resolution ?? ''}`} · {when(c.createdAt)}
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ChoiceCell({ field, side, value, choice, set }: { field: string; side: 'terminal' | 'central'; value: unknown; choice: Choice; set: (c: Choice) => void }) {
  return (
    <td className={choice.kind === side ? 'cell chosen' : 'cell'}>
      <label>
        <input type="radio" name={`choice-${field}`} checked={choice.kind === side} onChange={() => set({ kind: side })} aria-label={`${field}: ${side === 'terminal' ? 'this terminal' : 'central'}`} />
        <span className="value">{show(value)}</span>
      </label>
    </td>
  );
}

function MergeEditor({ conflict, close }: { conflict: ConflictView; close: () => void }) {
  const resolve = useApp((s) => s.resolve);
  const rows = useMemo(() => fieldRows(conflict), [conflict]);
  const [choices, setChoices] = useState<Record<string, Choice>>({});
  const [pending, setPending] = useState<Resolution | null>(null);
  const [lastError, setLastError] = useState<string | null>(null);
  const merged = mergedRow(rows, choices);
  const invalid = Object.keys(merged.errors).length > 0;
  const differing = rows.filter((r) => r.differs).length;

  const choose = (field: string, c: Choice) => setChoices((prev) => ({ ...prev, [field]: c }));
  const submit = async (pin: string): Promise<string | null> => {
    if (!pending) return null;
    const r = await resolve({ conflictId: conflict.conflictId, resolution: pending, pin, ...(pending === 'MANUAL_MERGE' ? { resolvedData: merged.row } : {}) });
    if (r.ok) {
      setPending(null);
      return null;
    }
    // A wrong PIN is asked again; anything else closes the dialog and is shown here.
    if (r.error.code === 'WRONG_PIN') return r.error.message;
    setPending(null);
    setLastError(r.error.message);
    return null;
  };

  return (
    <section aria-labelledby="merge-title" className="merge">
      <div className="row spread">
        <h2 id="merge-title">
          {conflict.entityType} <span className="mono">{conflict.entityId}</span>
        </h2>
        <button type="button" onClick={close}>
          Back to inbox
        </button>
      </div>
      <p className="muted">
        {differing} field{differing === 1 ? '' : 's'} differ between this terminal and central. Choose a value per field, or type one; the preview shows the record every till will get.
      </p>
      <div className="table-wrap">
        <table className="grid merge-grid" data-testid="merge-table">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before (base)</th>
              <th scope="col">This terminal</th>
              <th scope="col">Central</th>
              <th scope="col">Typed value</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const choice = choices[r.field] ?? defaultChoice(r);
              return (
                <tr key={r.field} data-field={r.field} className={r.differs ? 'differs' : undefined}>
                  <th scope="row">{r.field}</th>
                  <td className="cell muted">{show(r.base)}</td>
                  {r.differs ? (
                    <>
                      <ChoiceCell field={r.field} side="terminal" value={r.terminal} choice={choice} set={(c) => choose(r.field, c)} />
                      <ChoiceCell field={r.field} side="central" value={r.central} choice={choice} set={(c) => choose(r.field, c)} />
                      <td className={choice.kind === 'custom' ? 'cell chosen' : 'cell'}>
                        <input
                          type="text"
                          aria-label={`${r.field}: typed value`}
                          value={choice.kind === 'custom' ? choice.text : ''}
                          placeholder="type a value"
                          onChange={(e) => choose(r.field, { kind: 'custom', text: e.target.value })}
                          aria-invalid={merged.errors[r.field] !== undefined}
                        />
                        {merged.errors[r.field] ? <span className="field-error">{merged.errors[r.field]}</span> : null}
                      </td>
                    </>
                  ) : (
                    <>
                      <td className="cell">{show(r.terminal)}</td>
                      <td className="cell">{show(r.central)}</td>
                      <td className="cell muted">same</td>
                    </>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <h3>Preview of the merged record</h3>
      <pre className="preview" data-testid="merge-preview">
        {JSON.stringify(merged.row, null, 2)}
      </pre>
      {lastError ? (
        <p className="result bad" role="alert">
          {lastError}
        </p>
      ) : null}
      <div className="controls">
        <button type="button" className="primary" disabled={invalid} onClick={() => setPending('MANUAL_MERGE')}>
          Resolve with this merge
        </button>
        <button type="button" onClick={() => setPending('TERMINAL_WINS')}>
          Keep terminal
        </button>
        <button type="button" onClick={() => setPending('CENTRAL_WINS')}>
          Keep central
        </button>
      </div>
      {pending ? (
        <PinDialog
          title={pending === 'MANUAL_MERGE' ? 'Resolve with this merge' : pending === 'TERMINAL_WINS' ? "Keep this terminal's version" : "Keep central's version"}
          cancel={() => setPending(null)}
          submit={(pin) => {
            setLastError(null);
            return submit(pin);
          }}
        />
      ) : null}
    </section>
  );
}
