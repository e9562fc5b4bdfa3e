/** Small pieces the console's views share. */
import type { AttentionReason, FleetStatus } from '../../shared/protocol.js';
import { ATTENTION_LABELS, STATUS_LABELS } from '../format.js';
import type { Outcome } from '../hooks.js';

export function AttentionBadges({ reasons }: { reasons: readonly AttentionReason[] }) {
  if (reasons.length === 0) return <span className="muted">—</span>;
  return (
    <span className="badges">
      {reasons.map((r) => (
        <span key={r} className={`reason reason-${ATTENTION_LABELS[r].severity}`} title={ATTENTION_LABELS[r].why} data-reason={r}>
          {ATTENTION_LABELS[r].label}
        </span>
      ))}
    </span>
  );
}

export function StatusText({ status }: { status: FleetStatus }) {
  return <span className={`status status-${status.toLowerCase()}`}>{STATUS_LABELS[status]}</span>;
}

export function ErrorBanner({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <p className="banner error" role="alert">
      {error}
    </p>
  );
}

export function OutcomeLine({ outcome, testId }: { outcome: Outcome; testId: string }) {
  if (!outcome) return null;
  return (
    <p className={outcome.ok ? 'result ok' : 'result bad'} role="status" data-testid={testId}>
      {outcome.text}
    </p>
  );
}

/** What "Sync now" tells: which tills were asked. */
export function triggeredText(triggered: readonly string[]): string {
  if (triggered.length === 0) return 'No active till to sync.';
  if (triggered.length === 1) return `Sync requested: ${triggered[0]} syncs now (or as soon as it is back online).`;
  return `Sync requested for ${triggered.length} tills: each syncs now (or as soon as it is back online).`;
}
