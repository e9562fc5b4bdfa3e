/**
 * The companion's settings file (userData/settings.json), validated on read and on
 * write. The supervisor PIN is kept as a scrypt hash; the terminal key never lives
 * here (see secret-store.ts). A bad value is refused with the field named, and the
 * file is left as it was.
 */
import { Cron } from 'croner';
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { SettingsPatch, type SettingsView } from '../shared/ipc.js';

/** The interval shown and used when neither Settings nor the environment (TILLSYNC_SYNC_INTERVAL) give one. */
export const DEFAULT_SYNC_INTERVAL = 300;

export const StoredSettings = z.object({
  centralUrl: z.string().optional(),
  terminalId: z.string().optional(),
  databasePath: z.string().optional(),
  // Absent until set in Settings, so the environment's default (TILLSYNC_SYNC_INTERVAL) can apply.
  syncInterval: z.number().int().min(10).max(86_400).optional(),
  // '' is "no cron", chosen in Settings: it keeps an environment default (TILLSYNC_CRON) from applying.
  cron: z.string().optional(),
  autoStart: z.boolean().default(true),
  supervisorPinHash: z.string().optional(),
});
export type StoredSettings = z.infer<typeof StoredSettings>;

export interface SettingsFs {
  existsSync(path: string): boolean;
  readFileSync(path: string, encoding: 'utf8'): string;
  writeFileSync(path: string, data: string, opts: { mode: number }): void;
  renameSync(from: string, to: string): void;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function hashPin(pin: string): string {
  const salt = randomBytes(16);
  return `scrypt:${salt.toString('hex')}:${scryptSync(pin, salt, 32).toString('hex')}`;
}

export class SettingsStore {
  private current: StoredSettings;

  constructor(
    private readonly path: string,
    private readonly fs: SettingsFs,
  ) {
    this.current = this.read();
  }

  private read(): StoredSettings {
    if (!this.fs.existsSync(this.path)) return StoredSettings.parse({});
    let raw: unknown;
    try {
      raw = JSON.parse(this.fs.readFileSync(this.path, 'utf8'));
    } catch {
      throw new SettingsError(`${this.path} is not valid JSON; fix or delete it`);
    }
    const parsed = StoredSettings.safeParse(raw);
    if (!parsed.success) throw new SettingsError(`${this.path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }

  get(): StoredSettings {
    return { ...this.current };
  }

  /** What the renderer may see: never the PIN hash or the key. */
  view(hasKey: boolean): SettingsView {
    const { supervisorPinHash, syncInterval, cron, ...rest } = this.current;
    return {
      ...rest,
      syncInterval: syncInterval ?? DEFAULT_SYNC_INTERVAL,
      ...(cron ? { cron } : {}),
      hasPin: supervisorPinHash !== undefined,
      hasKey,
    };
  }

  /** Validates and saves a change (atomically: a crash leaves the old file or the new one). */
  update(patch: unknown): { saved: StoredSettings; apiKey: string | undefined } {
    const parsed = SettingsPatch.safeParse(patch);
    if (!parsed.success) throw new SettingsError(parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; '));
    const { supervisorPin, apiKey, cron, ...fields } = parsed.data;
    const rest: Partial<StoredSettings> = { ...fields, ...(cron !== undefined && cron.trim() !== '' ? { cron: cron.trim() } : {}) };
    if (rest.cron) {
      try {
        new Cron(rest.cron, { paused: true }).stop();
      } catch (err) {
        throw new SettingsError(`cron: invalid cron expression "${rest.cron}": ${err instanceof Error ? err.message : err}`);
      }
    }
    const next: StoredSettings = { ...this.current, ...rest, ...(supervisorPin ? { supervisorPinHash: hashPin(supervisorPin) } : {}) };
    if (cron !== undefined && cron.trim() === '') next.cron = '';
    this.replace(next);
    return { saved: next, apiKey };
  }

  /** Writes these settings as they are (used to put back the previous ones when a change cannot be applied). */
  replace(next: StoredSettings): void {
    const tmp = `${this.path}.tmp`;
    this.fs.writeFileSync(tmp, JSON.stringify(next, null, 2), { mode: 0o600 });
    this.fs.renameSync(tmp, this.path);
    this.current = { ...next };
  }

  verifyPin(pin: string): boolean {
    const h = this.current.supervisorPinHash;
    if (!h) return false;
    const [, salt, hash] = h.split(':');
    if (!salt || !hash) return false;
    const given = scryptSync(pin, Buffer.from(salt, 'hex'), 32);
    const want = Buffer.from(hash, 'hex');
    return given.length === want.length && timingSafeEqual(given, want);
  }
}
