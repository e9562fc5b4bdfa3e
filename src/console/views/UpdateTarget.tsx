import type { TargetReason } from '../../shared/update-protocol.js';
import { useLoad } from '../hooks.js';
import { concerns } from '../live.js';

const WHY: Record<TargetReason, string> = {
  STORE_PIN: 'store pin',
  ROLLOUT: 'rollout',
  NOT_YET: 'not in the rollout yet',
  PAUSED: 'rollout paused',
  ROLLED_BACK: 'rolled back',
};

/** Beside a till's version: the version HQ's update rollout has for it, when it is another one. */
export function UpdateTarget({ terminalId, appVersion }: { terminalId: string; appVersion: string | null }) {
  const u = useLoad((api) => api.updateTarget(terminalId), `update:${terminalId}`, (news) => concerns(news, terminalId));
  const target = u.data?.target ?? null;
  if (!target) return null;
  if (target.version === appVersion) return <span className="muted" data-testid="update-target"> · as HQ wants</span>;
  return (
    <span className="muted" data-testid="update-target">
      {' '}
      → {target.version} ({WHY[target.reason]})
    </span>
  );
}
