/**
 * decideUpdate, what the companion does with the version HQ offers (pure): completed
 * sales not at HQ yet hold every download and install; a rollback installs an older
 * version only when HQ allows it; an install restarts the app at a quiet moment only.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/shared/update-protocol.js';
import { decideUpdate, type UpdateSituation } from '../../src/main/sync/update-decision.js';

const base: UpdateSituation = { current: '1.1.0', offered: '1.2.0', allowDowngrade: false, downloaded: false, criticalPending: 0, online: true, quiet: false };
const decide = (s: Partial<UpdateSituation>) => decideUpdate({ ...base, ...s });

describe('decideUpdate', () => {
  it('nothing offered, the same version, or an older one HQ does not send back: none', () => {
    expect(decide({ offered: null }).action).toBe('none');
    expect(decide({ offered: '1.1.0' }).action).toBe('none');
    expect(decide({ offered: '1.0.9' })).toMatchObject({ action: 'none', reason: expect.stringMatching(/older/) });
    expect(decide({ offered: 'garbage' }).action).toBe('none');
  });

  it('a newer version: download, then install now when quiet, else when the app quits', () => {
    expect(decide({}).action).toBe('download');
    expect(decide({ downloaded: true }).action).toBe('install-on-quit');
    expect(decide({ downloaded: true, quiet: true }).action).toBe('install-now');
  });

  it('CRITICAL changes pending hold the download and the install, whatever else holds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (n, downloaded, online, quiet, back) => {
        const d = decide({ criticalPending: n, downloaded, online, quiet, offered: back ? '1.0.0' : '1.2.0', allowDowngrade: back });
        expect(d.action).toBe('hold');
        expect(d.reason).toContain(`${n} completed sale`);
      }),
    );
    expect(decide({ criticalPending: 1, downloaded: true, quiet: true }).reason).toMatch(/not at HQ yet/);
  });

  it('a rollback (older, allowed): downloaded and installed like an update', () => {
    expect(decide({ offered: '1.0.0', allowDowngrade: true })).toMatchObject({ action: 'download', reason: expect.stringMatching(/going back to 1.0.0/) });
    expect(decide({ offered: '1.0.0', allowDowngrade: true, downloaded: true, quiet: true }).action).toBe('install-now');
  });

  it('offline: a download waits for HQ; a downloaded update still installs', () => {
    expect(decide({ online: false }).action).toBe('hold');
    expect(decide({ online: false, downloaded: true, quiet: true }).action).toBe('install-now');
  });

  it('compareVersions follows semver precedence', () => {
    const ordered = ['0.9.9', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.10.0', '2.0.0'];
    for (let i = 0; i < ordered.length; i++)
      for (let j = 0; j < ordered.length; j++) expect(Math.sign(compareVersions(ordered[i] ?? '', ordered[j] ?? '')), `${ordered[i]} vs ${ordered[j]}`).toBe(Math.sign(i - j));
    expect(compareVersions('1.0.0+build.1', '1.0.0')).toBe(0);
  });
});
