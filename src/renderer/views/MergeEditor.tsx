/**
 * The merge editor, shared by the companion's conflict inbox and HQ's console: base,
 * the terminal's and central's values side by side, a choice (or a typed value) per
 * field, a preview of the merged record, and the three ways to resolve. What happens
 * on resolve is the caller's: the companion asks for the supervisor PIN, the console
 * sends it to central at once.
 */
import { useMemo, useState } from 'react';
import type { ConflictView } from '../../shared/ipc.js';
import { show } from '../format.js';
import { defaultChoice, fieldRows, mergedRow, type Choice } from '../merge.js';

export type Resolution = 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE';

/** What the editor needs of a conflict (the companion's ConflictView and central's ConflictRecord both have it). */
export type MergeConflict = Pick<ConflictView, 'entityType' | 'entityId' | 'base' | 'terminal' | 'central'>;

export interface MergeEditorProps {
  readonly conflict: MergeConflict;
  readonly close: () => void;
  /** The user chose how to resolve; `resolvedData` is the merged record for MANUAL_MERGE. */
  readonly resolve: (resolution: Resolution, resolvedData: Record<string, unknown> | undefined) => void;
  /** Why the last attempt failed (shown under the preview). */
  readonly error?: string | null;
  /** While a resolution is being sent: the buttons wait. */
  readonly busy?: boolean;
  /** How the terminal's side is named: "this terminal" on a till, the till's name at HQ. */
  readonly terminalName?: string;
  /** Extra words under the heading (e.g. which till the conflict came from). */
  readonly note?: string;
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function ChoiceCell({ field, side, label, value, choice, set }: { field: string; side: 'terminal' | 'central'; label: string; value: unknown; choice: Choice; set: (c: Choice) => void }) {
  return (
    <td className={choice.kind === side ? 'cell chosen' : 'cell'}>
      <label>
        <input type="radio" name={`choice-${field}`} checked={choice.kind === side} onChange={() => set({ kind: side })} aria-label={`${field}: ${label}`} />
        <span className="value">{show(value)}</span>
      </label>
    </td>
  );
}

export function MergeEditor({ conflict, close, resolve, error = null, busy = false, terminalName = 'this terminal', note }: MergeEditorProps) {
  const rows = useMemo(() => fieldRows(conflict), [conflict]);
  const [choices, setChoices] = useState<Record<string, Choice>>({});
  const merged = mergedRow(rows, choices);
  const invalid = Object.keys(merged.errors).length > 0;
  const differing = rows.filter((r) => r.differs).length;

  const choose = (field: string, c: Choice) => setChoices((prev) => ({ ...prev, [field]: c }));

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
      {note ? <p className="muted">{note}</p> : null}
      <p className="muted">
        {differing} field{differing === 1 ? '' : 's'} differ between {terminalName} and central. Choose a value per field, or type one; the preview shows the record every till will get.
      </p>
      <div className="table-wrap">
        <table className="grid merge-grid" data-testid="merge-table">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before (base)</th>
              <th scope="col">{capitalized(terminalName)}</th>
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
                      <ChoiceCell field={r.field} side="terminal" label={terminalName} value={r.terminal} choice={choice} set={(c) => choose(r.field, c)} />
                      <ChoiceCell field={r.field} side="central" label="central" value={r.central} choice={choice} set={(c) => choose(r.field, c)} />
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
      {error ? (
        <p className="result bad" role="alert">
          {error}
        </p>
      ) : null}
      <div className="controls">
        <button type="button" className="primary" disabled={invalid || busy} onClick={() => resolve('MANUAL_MERGE', merged.row)}>
          Resolve with this merge
        </button>
        <button type="button" disabled={busy} onClick={() => resolve('TERMINAL_WINS', undefined)}>
          Keep terminal
        </button>
        <button type="button" disabled={busy} onClick={() => resolve('CENTRAL_WINS', undefined)}>
          Keep central
        </button>
      </div>
    </section>
  );
}
