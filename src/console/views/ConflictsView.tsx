import { useState } from 'react';
import type { ConflictRecord } from '../../shared/protocol.js';
import { MergeEditor, type Resolution } from '../../renderer/views/MergeEditor.js';
import { describeError } from '../api.js';
import { resolutionLabel, seen } from '../format.js';
import { useConsole, useLoad, type Outcome } from '../hooks.js';
import { ErrorBanner, OutcomeLine } from './parts.js';

/** HQ's conflict inbox: every till's open conflicts, resolved at HQ in the companion's merge editor. */
export function ConflictsView() {
  const { api } = useConsole();
  const list = useLoad((a) => a.openConflicts(), 'open', () => true, 5000);
  const [selected, setSelected] = useState<ConflictRecord | null>(null);
  const [busy, setBusy] = useState(false);
  const [editorError, setEditorError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);

  const resolve = async (c: ConflictRecord, resolution: Resolution, resolvedData: Record<string, unknown> | undefined) => {
    setBusy(true);
    setEditorError(null);
    try {
      const r = await api.resolve(c.conflictId, resolution, resolvedData);
      setOutcome({ ok: true, text: `Resolved ${r.entityType} ${r.entityId} (${resolutionLabel(resolution)}): every till gets version ${r.version}${r.deleted ? ', a delete' : ''}.` });
      setSelected(null);
      list.reload();
    } catch (err) {
      setEditorError(describeError(err));
    } finally {
      setBusy(false);
    }
  };

  if (selected) {
    return (
      <MergeEditor
        key={selected.conflictId}
        conflict={selected}
        close={() => {
          setSelected(null);
          setEditorError(null);
        }}
        resolve={(resolution, data) => void resolve(selected, resolution, data)}
        error={editorError}
        busy={busy}
        terminalName={`till ${selected.terminalId}`}
        note={`Parked by till ${selected.terminalId} on ${seen(selected.createdAt)} (strategy ${selected.strategy}). Resolving here writes the record at central; the till gets it on its next pull.`}
      />
    );
  }

  const conflicts = list.data?.conflicts ?? [];
  return (
    <section aria-labelledby="conflicts-title">
      <h2 id="conflicts-title">Conflicts</h2>
      <OutcomeLine outcome={outcome} testId="conflicts-result" />
      <ErrorBanner error={list.error} />
      {list.data && conflicts.length === 0 ? (
        <p className="muted" data-testid="no-conflicts">
          No open conflicts. A till's edit that cannot be merged with HQ's automatically lands here and on that till.
        </p>
      ) : null}
      {conflicts.length > 0 ? (
        <div className="table-wrap">
          <table className="grid" data-testid="conflict-inbox">
            <thead>
              <tr>
                <th scope="col">Table</th>
                <th scope="col">Record</th>
                <th scope="col">Till</th>
                <th scope="col">Strategy</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {conflicts.map((c) => (
                <tr key={c.conflictId} data-conflict={c.conflictId}>
                  <th scope="row">{c.entityType}</th>
                  <td className="mono small">{c.entityId}</td>
                  <td className="mono">{c.terminalId}</td>
                  <td className="small">{c.strategy}</td>
                  <td>{seen(c.createdAt)}</td>
                  <td>
                    <button type="button" onClick={() => setSelected(c)} aria-label={`Open ${c.entityType} ${c.entityId}`}>
                      Open
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {!list.data && list.loading ? <p className="muted">Loading conflicts…</p> : null}
    </section>
  );
}
