import { FLEET_STATUSES } from '../../shared/protocol.js';
import { age, money, STATUS_LABELS } from '../format.js';
import { useAction, useLoad } from '../hooks.js';
import { ErrorBanner, OutcomeLine, triggeredText } from './parts.js';

/** The fleet rolled up per store, with "Sync now" for every active till of a store. */
export function StoresView({ showStore }: { showStore: (storeId: string) => void }) {
  const stores = useLoad((api) => api.stores(), 'stores', () => true, 3000);
  const [outcome, busy, run] = useAction();
  return (
    <section aria-labelledby="stores-title">
      <h2 id="stores-title">Stores</h2>
      <ErrorBanner error={stores.error} />
      <OutcomeLine outcome={outcome} testId="stores-result" />
      {stores.data ? (
        <div className="table-wrap">
          <table className="grid" data-testid="stores-table">
            <thead>
              <tr>
                <th scope="col">Store</th>
                <th scope="col" className="num">Tills</th>
                <th scope="col">By status</th>
                <th scope="col" className="num">Need attention</th>
                <th scope="col" className="num">Pending</th>
                <th scope="col" className="num">Failed</th>
                <th scope="col" className="num">Conflicts</th>
                <th scope="col" className="num">Unsynced sales</th>
                <th scope="col">Oldest pending</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {stores.data.stores.map((s) => (
                <tr key={s.storeId} data-store={s.storeId} className={s.needAttention > 0 ? 'needs-attention' : undefined}>
                  <th scope="row">
                    <button type="button" className="link" onClick={() => showStore(s.storeId)} title="Show this store's tills">
                      {s.name ?? s.storeId}
                    </button>
                    <div className="mono small muted">{s.storeId}</div>
                  </th>
                  <td data-col="terminals" className="num">
                    {s.terminals}
                  </td>
                  <td data-col="by-status" className="small">
                    {FLEET_STATUSES.filter((st) => (s.byStatus[st] ?? 0) > 0)
                      .map((st) => `${s.byStatus[st]} ${STATUS_LABELS[st].toLowerCase()}`)
                      .join(' · ') || '—'}
                  </td>
                  <td data-col="attention" className={s.needAttention > 0 ? 'num bad' : 'num'}>
                    {s.needAttention}
                  </td>
                  <td data-col="pending" className="num">
                    {s.pending}
                  </td>
                  <td data-col="failed" className={s.failed > 0 ? 'num bad' : 'num'}>
                    {s.failed}
                  </td>
                  <td data-col="conflicts" className={s.conflicts > 0 ? 'num bad' : 'num'}>
                    {s.conflicts}
                  </td>
                  <td data-col="unsynced" className={s.unsyncedSalesCount > 0 ? 'num waiting' : 'num'}>
                    {money(s.unsyncedSalesTotal, s.currency)}
                    {s.unsyncedSalesCount > 0 ? <div className="small">{s.unsyncedSalesCount === 1 ? '1 sale' : `${s.unsyncedSalesCount} sales`}</div> : null}
                  </td>
                  <td data-col="oldest-pending">{age(s.oldestPendingSeconds)}</td>
                  <td>
                    <button
                      type="button"
                      disabled={busy}
                      aria-label={`Sync now: every till of ${s.name ?? s.storeId}`}
                      onClick={() => void run(async (api) => triggeredText((await api.syncNow({ storeId: s.storeId })).triggered))}
                    >
                      Sync now
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : stores.loading ? (
        <p className="muted">Loading the stores…</p>
      ) : null}
      {stores.data && stores.data.stores.length === 0 ? <p className="muted">No store yet: create one with POST /api/stores.</p> : null}
    </section>
  );
}
