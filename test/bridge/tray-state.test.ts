import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { trayView, TRAY_STATES } from '../../src/shared/tray-state.js';
import type { EngineStatus } from '../../src/shared/ipc.js';
import { engineStatus } from '../helpers/status.js';

const status = engineStatus;

describe('tray state', () => {
  it('synced when nothing waits', () => {
    expect(trayView(status()).state).toBe('synced');
    expect(trayView(status()).headline).toBe('All sales are safe at HQ');
  });

  it('pending shows the count; syncing while a pass runs; offline beats both', () => {
    expect(trayView(status({ totals: { pending: 7 } }))).toMatchObject({ state: 'pending', headline: '7 pending' });
    expect(trayView(status({ totals: { pending: 7 }, activity: { kind: 'FULL', pulled: 0, pushed: 0 } })).state).toBe('syncing');
    const off = trayView(status({ connection: 'offline', totals: { pending: 3 } }));
    expect(off.state).toBe('offline');
    expect(off.headline).toContain('3');
  });

  it('failures, conflicts or a paused table need attention, whatever else is true', () => {
    fc.assert(
      fc.property(
        fc.nat(50),
        fc.nat(5),
        fc.nat(5),
        fc.boolean(),
        fc.constantFrom('online', 'offline', 'connecting') as fc.Arbitrary<EngineStatus['connection']>,
        (pending, failed, conflicts, pausedTable, connection) => {
          const v = trayView(
            status({
              connection,
              totals: { pending, failed, conflicts },
              tables: pausedTable ? { Product: { pending: 0, failed: 0, synced: 0, conflicts: 0, lastPullAt: null, lastPushAt: null, paused: 'schema differs' } } : {},
            }),
          );
          expect(TRAY_STATES).toContain(v.state);
          expect(v.state === 'attention').toBe(failed > 0 || conflicts > 0 || pausedTable);
          expect(v.tooltip).toContain(`pending ${pending}`);
          expect(v.tooltip).toContain(`failed ${failed}`);
          expect(v.tooltip).toContain(`conflicts ${conflicts}`);
        },
      ),
    );
  });
});
