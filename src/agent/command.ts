/** What every `tillsync` command is, and the structured logger they share. */
import pino, { type Logger } from 'pino';

export interface Command {
  readonly summary: string;
  /** Extra boolean/string flags of this command (beyond the settings). */
  readonly options?: Record<string, { type: 'boolean' | 'string'; help: string }>;
  /** The positional arguments this command takes, for help (e.g. `<central|agent>`); without it, none are allowed. */
  readonly positionals?: string;
  run(args: { flags: Record<string, string | boolean | undefined>; env: NodeJS.ProcessEnv; positionals?: readonly string[] }): Promise<number>;
}

/** Structured logs: the agent's on stdout; one-shot commands log to stderr and print results on stdout. */
export function logger(level: string, destination: 1 | 2 = 2): Logger {
  return pino({ level, base: { app: 'tillsync-agent' } }, pino.destination(destination));
}

