/**
 * The campaign's child processes (central, the agent, the simulator): each a plain
 * `node` process (no npx or shell in between, so a SIGKILL reaches the process that
 * matters), its output kept as the last lines in memory and, when asked, in a log
 * file per role across restarts. Every child is tracked until it exits, and
 * killAllChildren() ends the ones left, so no path of a run leaves one behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TILLSYNC_BIN = join(ROOT, 'bin', 'tillsync.mjs');

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The last lines a role printed, across its restarts (bounded). */
export class LogTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    readonly role: string,
    private readonly file: string | undefined,
    private readonly keep = 400,
  ) {}

  write(text: string): void {
    if (this.file) appendFileSync(this.file, text);
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.push(line);
  }

  note(line: string): void {
    const text = `--- ${new Date().toISOString()} ${line} ---\n`;
    if (this.file) appendFileSync(this.file, text);
    this.push(text.trimEnd());
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
  }

  /** The lines since the role's last start (what this process printed, as far as kept). */
  sinceStart(): string[] {
    const all = this.partial ? [...this.lines, this.partial] : [...this.lines];
    let i = all.length - 1;
    while (i >= 0 && !/^--- .* started \(pid/.test(all[i] as string)) i--;
    return all.slice(i + 1).filter((l) => !l.startsWith('--- '));
  }

  /** The last `n` lines, those at warn level or above first picked when `important`. */
  tail(n = 30, important = false): string[] {
    const all = this.partial ? [...this.lines, this.partial] : [...this.lines];
    if (!important) return all.slice(-n);
    // pino levels: 40 warn, 50 error, 60 fatal; non-JSON lines (stack traces, our notes) count too.
    return all.filter((l) => !/^\{.*"level":(10|20|30),/.test(l)).slice(-n);
  }
}

const live = new Set<Child>();

process.once('exit', () => {
  for (const c of live) c.process.kill('SIGKILL');
});

export class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  private exitInfo: ChildExit | undefined;
  private out = '';
  readonly startedAt = Date.now();
  /** When it exited (ms since epoch), once it has. */
  exitedAt: number | undefined;
  /** Killed on purpose (by us): its exit is not a crash. */
  killedByUs = false;

  constructor(
    readonly role: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    readonly log: LogTail,
    opts: { keepStdout?: boolean } = {},
  ) {
    this.process = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    log.note(`${role} started (pid ${this.process.pid ?? '?'})`);
    this.process.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (opts.keepStdout) this.out += d;
      log.write(d);
    });
    this.process.stderr?.setEncoding('utf8').on('data', (d: string) => log.write(d));
    live.add(this);
    this.exited = new Promise<ChildExit>((res) => {
      const done = (exit: ChildExit) => {
        if (this.exitInfo) return;
        this.exitInfo = exit;
        this.exitedAt = Date.now();
        live.delete(this);
        log.note(`${role} exited (code ${exit.code}, signal ${exit.signal})`);
        res(exit);
      };
      this.process.once('exit', (code, signal) => done({ code, signal }));
      this.process.once('error', () => done({ code: null, signal: null }));
    });
  }

  get exit(): ChildExit | undefined {
    return this.exitInfo;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** What it printed on stdout (when kept). */
  stdout(): string {
    return this.out;
  }

  /** SIGKILL, and its exit. */
  async kill(): Promise<ChildExit> {
    if (this.exitInfo) return this.exitInfo;
    this.killedByUs = true;
    this.process.kill('SIGKILL');
    return this.exited;
  }

  /** `signal`, and its exit; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ChildExit> {
    if (this.exitInfo) return this.exitInfo;
    this.killedByUs = true;
    this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Kills every child still running (SIGKILL) and waits for their exits. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill()));
}

/** Our environment without any TillSync, database or central settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (
      k.startsWith('TILLSYNC_') ||
      k.startsWith('CENTRAL_') ||
      k.startsWith('VITEST') ||
      ['DATABASE_URL', 'POSTGRES_URL_REMOTE', 'TEST_DATABASE_URL', 'TERMINAL_ID', 'PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(k)
    ) {
      delete env[k];
    }
  }
  return { ...env, ...extra };
}

/** A log file path in `dir` for a role, or undefined when logs are not kept. */
export function logFile(dir: string | undefined, role: string): string | undefined {
  return dir ? join(dir, `${role}.log`) : undefined;
}
