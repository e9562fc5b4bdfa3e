/**
 * `systemd-analyze verify` on a unit's text: the unit is written to a temporary folder
 * as <name>.service (verify wants a real unit file name) and checked there.
 *
 * What verify reports, as seen with systemd 252 without systemd running as PID 1:
 * nothing and exit 0 for a good unit, and no complaint about a User= that does not
 * exist here, nor about a missing WorkingDirectory= or EnvironmentFile= (those are
 * checked at start); exit 1 when ExecStart's executable does not exist; exit 0 but a
 * line naming the file for an unknown key or a value it cannot parse ("Unknown key
 * 'ProtectHomee' in section [Service], ignoring."). So a unit passes only with exit 0
 * and no line about it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

export interface VerifyResult {
  readonly code: number | null;
  /** verify's lines that name this unit (its file or its name). */
  readonly problems: readonly string[];
  /** Everything verify printed, for failure messages. */
  readonly output: string;
}

/** Runs `systemd-analyze <args> <file>` on `text` written as `<name>.service`; throws when systemd-analyze is not installed (never a skip). */
function analyze(args: readonly string[], name: string, text: string): { code: number | null; output: string } {
  if (!existsSync(SYSTEMD_ANALYZE)) {
    throw new Error(`${SYSTEMD_ANALYZE} is missing: the service unit tests need it (apt-get install systemd); they do not skip without it`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tillsync-unit-'));
  try {
    const file = join(dir, `${name}.service`);
    writeFileSync(file, text);
    const r = spawnSync(SYSTEMD_ANALYZE, [...args, file], { cwd: dir, encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0', SYSTEMD_PAGER: '' } });
    if (r.error) throw r.error;
    return { code: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `systemd-analyze verify` on `text` as `<name>.service`. */
export function verifyUnit(name: string, text: string): VerifyResult {
  const { code, output } = analyze(['verify'], name, text);
  const problems = output.split('\n').filter((l) => l.includes(`${name}.service`));
  return { code, problems, output };
}

/**
 * `systemd-analyze security --offline=true`'s overall exposure for the unit: 0 (locked
 * down) to 10 (UNSAFE); a service with no hardening scores 9.6.
 */
export function exposure(name: string, text: string): { score: number; output: string } {
  const { code, output } = analyze(['security', '--offline=true', '--no-pager'], name, text);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(output);
  if (code !== 0 || !m?.[1]) throw new Error(`systemd-analyze security failed (exit ${code}):\n${output}`);
  return { score: Number(m[1]), output };
}

/** Whether verify found the unit clean: exit 0 and not one line about it. */
export function verifiedClean(r: VerifyResult): boolean {
  return r.code === 0 && r.problems.length === 0;
}
