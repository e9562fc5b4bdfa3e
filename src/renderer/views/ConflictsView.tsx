import { useEffect, useState } from 'react';
import type { ConflictView } from '../../shared/ipc.js';
import { when } from '../format.js';
import { useApp } from '../hooks.js';
import { MergeEditor, type Resolution } from './MergeEditor.js';
import { PinDialog } from './PinDialog.js';

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
  if (current) return <CompanionMerge conflict={current} close={() => select(null)} />;
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

/** The shared merge editor behind the supervisor PIN: nothing is resolved on a till without it. */
function CompanionMerge({ conflict, close }: { conflict: ConflictView; close: () => void }) {
  const resolve = useApp((s) => s.resolve);
  const [pending, setPending] = useState<{ resolution: Resolution; resolvedData: Record<string, unknown> | undefined } | null>(null);
  const [lastError, setLastError] = useState<string | null>(null);

  const submit = async (pin: string): Promise<string | null> => {
    if (!pending) return null;
    const r = await resolve({ conflictId: conflict.conflictId, resolution: pending.resolution, pin, ...(pending.resolvedData ? { resolvedData: pending.resolvedData } : {}) });
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
    <>
      <MergeEditor conflict={conflict} close={close} error={lastError} resolve={(resolution, resolvedData) => setPending({ resolution, resolvedData })} />
      {pending ? (
        <PinDialog
          title={pending.resolution === 'MANUAL_MERGE' ? 'Resolve with this merge' : pending.resolution === 'TERMINAL_WINS' ? "Keep this terminal's version" : "Keep central's version"}
          cancel={() => setPending(null)}
          submit={(pin) => {
            setLastError(null);
            return submit(pin);
          }}
        />
      ) : null}
    </>
  );
}
