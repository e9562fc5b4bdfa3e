/** The fault campaign's report as a two-column table, as `npm run chaos` prints it. */
import type { CampaignReport } from './campaign.js';
import { FAULT_KINDS, type FaultCounts } from './fault-proxy.js';

const secs = (ms: number | null): string => (ms === null ? 'not converged' : `${(ms / 1000).toFixed(2)} s`);

const parts = (c: { orders: number; items: number; payments: number; movements: number }): string =>
  `${c.orders} orders, ${c.items} items, ${c.payments} payments, ${c.movements} stock movements`;

const counts = (c: FaultCounts): string =>
  FAULT_KINDS.filter((k) => c[k] > 0)
    .map((k) => `${k} ${c[k]}`)
    .join(', ');

export function formatReport(r: CampaignReport): string {
  const s = r.sales;
  const c = r.convergence;
  const total = (x: { orders: number; items: number; payments: number; movements: number }) => x.orders + x.items + x.payments + x.movements;
  const rows: [string, string][] = [
    ['seed', String(r.seed)],
    ['run', `${r.seconds} s of faults, central on ${r.database === 'postgres' ? 'PostgreSQL' : 'PGlite'}, ${r.rate} sales/s, ${(r.durationMs / 1000).toFixed(1)} s in all`],
    ['sales written (till)', parts(s.written)],
    ['sales at central', parts(s.atCentral)],
    ['lost', total(s.lost) === 0 ? '0' : parts(s.lost)],
    ['duplicated', total(s.duplicated) === 0 ? '0' : parts(s.duplicated)],
    ['differing / unknown orders', `${s.mismatched} / ${s.unknown}`],
    ['customers / stock differing', `${r.divergent.customers.length} / ${r.divergent.stock.length}`],
    ['heal -> sales at central', `${secs(c.salesAfterHealMs)}${c.salesSeenBy === 'till outbox' ? ' (as the till saw it; central audited after)' : ''} (bound ${secs(c.boundMs)})`],
    ['last sale -> sales at central', secs(c.salesAfterLastSaleMs)],
    ['heal -> customers, stock agree', `${secs(c.rowsAfterHealMs)} (bound ${secs(c.boundMs)})`],
    ['heal -> HQ changes on the till', `${secs(c.hqAfterHealMs)} (bound ${secs(c.boundMs)})`],
    [
      'HQ change -> till, online after',
      c.hqOnlineMs.length === 0 ? 'not measured (PGlite: HQ cannot write while central runs)' : c.hqOnlineMs.map((ms) => (ms === null ? 'not within the bound' : `${ms} ms`)).join(', '),
    ],
    ['HQ changes applied on the till', `${r.hq.applied} of ${r.hq.changed} products (${r.hq.writes} price writes)`],
    ['till outbox at the end', `${r.outbox.pending} pending, ${r.outbox.failed} failed, ${r.outbox.conflict} conflicts, ${r.outbox.captured} not yet moved`],
    ['kills', `agent ${r.events.agentKills}, central ${r.events.centralKills} (SIGKILL)`],
    ['proxy exchanges', `${r.faults.exchanges} on ${r.faults.connections} connections: ${counts(r.faults.planned)}`],
    ['faults that fired', counts(r.faults.fired)],
    ['result', r.passed ? 'PASS' : 'FAIL'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = ['TillSync fault campaign', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  if (!r.passed) {
    lines.push('', 'failures:', ...r.failures.map((f) => `  - ${f}`));
    if (s.examples.length > 0) lines.push('examples:', ...s.examples.map((e) => `  ${e}`));
    if (r.outbox.stuck.length > 0) lines.push('till outbox entries not synced:', ...r.outbox.stuck.map((e) => `  ${e}`));
    if (r.hq.missing.length > 0) lines.push('HQ changes missing on the till:', ...r.hq.missing.slice(0, 12).map((m) => `  ${m}`));
    for (const d of [...r.divergent.customers, ...r.divergent.stock].slice(0, 12)) lines.push(`  differs: ${d}`);
    for (const [role, tail] of Object.entries(r.logs)) {
      if (tail.length > 0) lines.push('', role === 'agent passes' ? 'agent (its last full passes):' : role === 'agent socket' ? 'agent (its socket):' : `${role} (last warnings and errors):`, ...tail.map((l) => `  ${l}`));
    }
  }
  return lines.join('\n');
}
