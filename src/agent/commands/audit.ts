/**
 * `tillsync audit [--table T] [--json]`: proof of convergence. Compares this till's
 * synced rows with central's for the same scope, table by table (src/main/sync/audit.ts),
 * and prints "in step" per table or each differing row.
 *
 * Exit codes: 0 every compared table in step; 3 rows differ (AUDIT_DIFFERS); 1 the
 * audit could not finish (central unreachable, a table failed); 2 a setting or usage
 * error.
 */
import { AgentConfigError, agentConfig } from '../../main/engine-settings.js';
import { runAudit, UnknownAuditTableError } from '../../main/sync/audit.js';
import { CentralError, NetworkError } from '../../main/sync/central-client.js';
import { trimAudit, type AuditReport, type AuditTableReport } from '../../shared/audit-protocol.js';
import { logger, type Command } from '../command.js';
import { keyRefusedError } from '../errors.js';
import { openEngine } from '../open-engine.js';

/** The exit code of an audit that found rows not in step (distinct from 1, a failure, and 2, a usage error). */
export const AUDIT_DIFFERS = 3;

const KIND: Record<string, string> = {
  missing_at_till: 'missing at the till',
  missing_at_central: 'missing at central',
  different_content: 'different content',
  different_version: 'different version',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const v = (x: number | null) => (x === null ? '-' : `v${x}`);

function tableLines(t: AuditTableReport): string[] {
  const aside = [
    t.pending > 0 ? `${plural(t.pending, 'row')} with changes not at central yet, not compared` : '',
    t.unsent > 0 ? `${plural(t.unsent, 'row')} never sent, not compared` : '',
  ].filter(Boolean);
  const tail = aside.length > 0 ? `; ${aside.join('; ')}` : '';
  const name = t.table.padEnd(24);
  if (t.outcome === 'failed') return [`${name} FAILED: ${t.reason ?? ''}`];
  if (t.outcome === 'in_step') return [`${name} in step (${plural(t.tillRows, 'row')}${tail})`];
  const lines = [`${name} ${plural(t.differencesTotal, 'row differs', 'rows differ')} (${t.tillRows} at the till, ${t.centralRows} at central${tail})`];
  for (const d of t.differences) lines.push(`  ${(KIND[d.kind] ?? d.kind).padEnd(20)} ${d.id}  (till ${v(d.tillVersion)}, central ${v(d.centralVersion)})`);
  if (t.differencesTotal > t.differences.length) lines.push(`  ... and ${t.differencesTotal - t.differences.length} more`);
  for (const id of t.pendingIds) lines.push(`  ${'pending'.padEnd(20)} ${id}  (changed on the till, not at central yet)`);
  return lines;
}

/** The report as text: one line per compared table, the differing rows under it, then what was not compared and why. */
export function formatAudit(r: AuditReport): string {
  const compared = r.tables.filter((t) => t.outcome !== 'not_compared');
  const skipped = r.tables.filter((t) => t.outcome === 'not_compared');
  const lines = [`audit of terminal ${r.terminalId} against ${r.centralUrl}: ${plural(compared.length, 'table')} compared in ${r.durationMs} ms`];
  for (const t of compared) lines.push(...tableLines(t));
  const reasons = new Map<string, string[]>();
  for (const t of skipped) reasons.set(t.reason ?? '', [...(reasons.get(t.reason ?? '') ?? []), t.table]);
  for (const [reason, tables] of reasons) lines.push(`not compared: ${tables.join(', ')} (${reason})`);
  const differing = compared.filter((t) => t.outcome === 'differs');
  const failed = compared.filter((t) => t.outcome === 'failed');
  if (r.inStep) lines.push('in step');
  else {
    const parts = [];
    if (differing.length > 0) parts.push(`${plural(differing.reduce((n, t) => n + t.differencesTotal, 0), 'row differs', 'rows differ')} in ${plural(differing.length, 'table')}`);
    if (failed.length > 0) parts.push(`${plural(failed.length, 'table')} could not be audited`);
    lines.push(`NOT in step: ${parts.join('; ')}`);
  }
  return lines.join('\n');
}

/** 0 in step, AUDIT_DIFFERS when rows differ, 1 when a table could not be audited (and none differs). */
export function auditExitCode(r: AuditReport): number {
  if (r.tables.some((t) => t.outcome === 'differs')) return AUDIT_DIFFERS;
  return r.inStep ? 0 : 1;
}

export const auditCommand: Command = {
  summary: `compare this till's synced rows with central's, table by table (exit 0 in step, ${AUDIT_DIFFERS} rows differ, 1 failed)`,
  options: {
    table: { type: 'string', help: 'audit one table (its name or entity type)' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  async run({ flags, env }) {
    const config = agentConfig(flags, env);
    const log = logger(config.logLevel);
    const { store, service } = openEngine(config, log, { createHint: null });
    try {
      let report: AuditReport;
      try {
        report = await runAudit({ store, client: service.client, terminalId: config.terminalId, table: typeof flags.table === 'string' ? flags.table : undefined });
      } catch (err) {
        if (err instanceof UnknownAuditTableError) throw new AgentConfigError(`--table: ${err.message}`);
        if (err instanceof CentralError && err.refusesKey) throw keyRefusedError(config.terminalId, err);
        if (err instanceof NetworkError) {
          process.stderr.write(`tillsync audit: ${err.message}; nothing was compared\n`);
          return 1;
        }
        throw err;
      }
      // HQ's console shows each till's latest audit; a report it cannot take changes no answer here.
      await service.client.auditReport(config.terminalId, trimAudit(report)).catch((err: unknown) => {
        process.stderr.write(`tillsync audit: the report was not handed to HQ (${err instanceof Error ? err.message : String(err)})\n`);
      });
      process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : formatAudit(report)}\n`);
      return auditExitCode(report);
    } finally {
      // The service never started: only the database is closed.
      store.close();
    }
  },
};
