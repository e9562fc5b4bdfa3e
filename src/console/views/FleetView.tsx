import { useState } from 'react';
import { FLEET_STATUSES, type FleetStatus, type FleetTerminal } from '../../shared/protocol.js';
import type { FleetFilter } from '../api.js';
import { age, lag, money, seen, skew, STATUS_LABELS } from '../format.js';
import { useLoad } from '../hooks.js';
import { AttentionBadges, ErrorBanner, StatusText } from './parts.js';

export const PAGE_SIZE = 25;

/** The fleet in central's order (what needs attention first), filtered and paged. */
export function FleetView({ open, initialStoreId = '' }: { open: (terminalId: string) => void; initialStoreId?: string }) {
  const [storeId, setStoreId] = useState(initialStoreId);
  const [status, setStatus] = useState<FleetStatus | ''>('');
  const [attention, setAttention] = useState<'' | 'true' | 'false'>('');
  const [offset, setOffset] = useState(0);
  const filter: FleetFilter = {
    ...(storeId ? { storeId } : {}),
    ...(status ? { status } : {}),
    ...(attention ? { attention: attention === 'true' } : {}),
    limit: PAGE_SIZE,
    offset,
  };
  // The list follows the fleet's news every few seconds; the store names for the filter do not change with heartbeats.
  const fleet = useLoad((api) => api.fleet(filter), JSON.stringify(filter), () => true, 3000);
  const stores = useLoad((api) => api.stores(), 'stores', () => false);
  const page = fleet.data;
  const refilter = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    setOffset(0);
  };

  return (
    <section aria-labelledby="fleet-title">
      <div className="row spread">
        <h2 id="fleet-title">Fleet</h2>
        <p className="muted">Tills that need attention first: offline ones holding sales, then the longest waiting.</p>
      </div>
      <div className="filters row">
        <label className="field-inline">
          Store{' '}
          <select value={storeId} onChange={(e) => refilter(setStoreId)(e.target.value)} aria-label="Store">
            <option value="">All stores</option>
            {(stores.data?.stores ?? []).map((s) => (
              <option key={s.storeId} value={s.storeId}>
                {s.name ?? s.storeId}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          Status{' '}
          <select value={status} onChange={(e) => refilter(setStatus)(e.target.value as FleetStatus | '')} aria-label="Status">
            <option value="">Any status</option>
            {FLEET_STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </label>
        <label className="field-inline">
          Attention{' '}
          <select value={attention} onChange={(e) => refilter(setAttention)(e.target.value as '' | 'true' | 'false')} aria-label="Needs attention">
            <option value="">All tills</option>
            <option value="true">Needs attention</option>
            <option value="false">Nothing to look at</option>
          </select>
        </label>
      </div>
      <ErrorBanner error={fleet.error ?? stores.error} />
      {page ? (
        <>
          <div className="table-wrap">
            <table className="grid fleet" data-testid="fleet-table">
              <thead>
                <tr>
                  <th scope="col">Till</th>
                  <th scope="col">Store</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">Unsynced sales</th>
                  <th scope="col">Attention</th>
                  <th scope="col" className="num">Pending</th>
                  <th scope="col" className="num">Failed</th>
                  <th scope="col" className="num">Conflicts</th>
                  <th scope="col">Oldest pending</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Clock</th>
                  <th scope="col">Pull lag</th>
                  <th scope="col">Version</th>
                </tr>
              </thead>
              <tbody>
                {page.terminals.map((t) => (
                  <FleetRow key={t.terminalId} t={t} open={open} />
                ))}
              </tbody>
            </table>
          </div>
          {page.terminals.length === 0 ? (
            <p className="muted" data-testid="fleet-empty">
              No till matches these filters.
            </p>
          ) : null}
          <div className="row pager">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
              Previous
            </button>
            <span data-testid="fleet-range">
              {page.total === 0 ? '0' : `${page.offset + 1}–${page.offset + page.terminals.length}`} of {page.total}
            </span>
            <button type="button" disabled={offset + PAGE_SIZE >= page.total} onClick={() => setOffset(offset + PAGE_SIZE)}>
              Next
            </button>
          </div>
        </>
      ) : fleet.loading ? (
        <p className="muted">Loading the fleet…</p>
      ) : null}
    </section>
  );
}

function FleetRow({ t, open }: { t: FleetTerminal; open: (terminalId: string) => void }) {
  return (
    <tr data-terminal={t.terminalId} className={t.attention.length > 0 ? 'needs-attention' : undefined}>
      <th scope="row">
        <button type="button" className="link" onClick={() => open(t.terminalId)} title={t.terminalId}>
          {t.name}
        </button>
        {t.name !== t.terminalId ? <div className="mono small muted">{t.terminalId}</div> : null}
      </th>
      <td data-col="store" className="mono">
        {t.storeId}
      </td>
      <td data-col="status">
        <StatusText status={t.status} />
      </td>
      <td data-col="unsynced" className={t.unsyncedSalesCount > 0 ? 'num waiting' : 'num'}>
        {money(t.unsyncedSalesTotal, t.currency)}
        {t.unsyncedSalesCount > 0 ? <div className="small">{t.unsyncedSalesCount === 1 ? '1 sale' : `${t.unsyncedSalesCount} sales`}</div> : null}
      </td>
      <td data-col="attention">
        <AttentionBadges reasons={t.attention} />
      </td>
      <td data-col="pending" className="num">
        {t.pending}
      </td>
      <td data-col="failed" className={t.failed > 0 ? 'num bad' : 'num'}>
        {t.failed}
      </td>
      <td data-col="conflicts" className={t.conflicts > 0 ? 'num bad' : 'num'}>
        {t.conflicts}
      </td>
      <td data-col="oldest-pending">{age(t.oldestPendingSeconds)}</td>
      <td data-col="last-seen">{seen(t.lastSeenAt)}</td>
      <td data-col="clock">{skew(t.clockSkewMs)}</td>
      <td data-col="pull-lag">{lag(t.pullLagSeconds)}</td>
      <td data-col="version" className="small">
        {t.appVersion ?? '—'}
      </td>
    </tr>
  );
}
