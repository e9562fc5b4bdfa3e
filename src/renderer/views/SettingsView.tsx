import { useState, type FormEvent, type ReactNode } from 'react';
import { SettingsPatch, type SettingsView as Settings } from '../../shared/ipc.js';
import { useApp } from '../hooks.js';

interface Form {
  centralUrl: string;
  terminalId: string;
  databasePath: string;
  apiKey: string;
  syncInterval: string;
  cron: string;
  autoStart: boolean;
  supervisorPin: string;
}

const EMPTY: Form = { centralUrl: '', terminalId: '', databasePath: '', apiKey: '', syncInterval: '300', cron: '', autoStart: false, supervisorPin: '' };

/** The form showing saved settings (the key and PIN fields start empty: they are write-only). */
function fromView(v: Settings): Form {
  return {
    centralUrl: v.centralUrl ?? '',
    terminalId: v.terminalId ?? '',
    databasePath: v.databasePath ?? '',
    apiKey: '',
    syncInterval: String(v.syncInterval),
    cron: v.cron ?? '',
    autoStart: v.autoStart ?? false,
    supervisorPin: '',
  };
}

/** The change a form makes to the saved settings: only what differs; the key and PIN only when typed. */
export function patchOf(form: Form, saved: Form): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const k of ['centralUrl', 'terminalId', 'databasePath', 'cron'] as const) if (form[k].trim() !== saved[k]) patch[k] = form[k].trim();
  if (form.syncInterval.trim() !== saved.syncInterval) patch.syncInterval = form.syncInterval.trim() === '' ? NaN : Number(form.syncInterval);
  if (form.autoStart !== saved.autoStart) patch.autoStart = form.autoStart;
  if (form.apiKey !== '') patch.apiKey = form.apiKey;
  if (form.supervisorPin !== '') patch.supervisorPin = form.supervisorPin;
  return patch;
}

function Field({ id, label, hint, error, children }: { id: string; label: string; hint?: string; error?: string | undefined; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      <p className="field-error" id={`${id}-error`} role={error ? 'alert' : undefined}>
        {error ?? ''}
      </p>
    </div>
  );
}

/**
 * "Save support bundle": status, settings, outbox, versions, history, parity and logs in
 * one archive for IT, secrets redacted. The desktop app asks where to save it; web mode
 * writes it into the companion's data folder. Either way the path is shown.
 */
function SupportBundleButton() {
  const saveBundle = useApp((s) => s.saveSupportBundle);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const onClick = async () => {
    setBusy(true);
    setResult(null);
    const r = await saveBundle();
    setBusy(false);
    if (!r.ok) return setResult({ ok: false, text: `The support bundle could not be saved: ${r.error.message}` });
    if (!r.value.saved) return setResult({ ok: true, text: 'Not saved' });
    const missing = r.value.problems.length > 0 ? ` (not collected: ${r.value.problems.join('; ')})` : '';
    setResult({ ok: true, text: `Support bundle saved to ${r.value.path ?? ''}${missing}` });
  };
  return (
    <div className="field">
      <p className="hint" id="support-bundle-hint">
        For IT: status, settings, outbox, versions, history, schema parity and logs in one file. The terminal key and PIN are never included.
      </p>
      <div className="controls">
        <button type="button" onClick={() => void onClick()} disabled={busy} aria-describedby="support-bundle-hint">
          {busy ? 'Saving support bundle…' : 'Save support bundle'}
        </button>
      </div>
      {result ? (
        <p className={result.ok ? 'result ok' : 'result bad'} role="status" data-testid="support-bundle-result">
          {result.text}
        </p>
      ) : null}
    </div>
  );
}

export function SettingsView() {
  const settings = useApp((s) => s.settings);
  const save = useApp((s) => s.saveSettings);
  /**
   * The form as edited and not saved (null: not edited). Unsaved edits survive a reload
   * of the settings (e.g. the tab clicked again); otherwise the form shows the saved
   * settings from the first paint on (a copy set after the first render showed the
   * empty form's values for a frame: the auto-start box ticked in web mode).
   */
  const [edits, setEdits] = useState<Form | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const saved: Form = settings ? fromView(settings) : EMPTY;
  const form = edits ?? saved;

  if (!settings) return <p className="muted">Loading settings…</p>;

  const set = <K extends keyof Form>(k: K, v: Form[K]) => setEdits((e) => ({ ...(e ?? saved), [k]: v }));
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setMessage(null);
    const patch = patchOf(form, saved);
    if (Object.keys(patch).length === 0) return setMessage({ ok: true, text: 'Nothing to save' });
    const parsed = SettingsPatch.safeParse(patch);
    if (!parsed.success) {
      const next: Record<string, string> = {};
      for (const i of parsed.error.issues) {
        const k = String(i.path[0] ?? 'form');
        next[k] ??= k === 'syncInterval' && i.code === 'invalid_type' ? 'must be a number of seconds' : i.message;
      }
      setErrors(next);
      return setMessage({ ok: false, text: 'Please correct the fields marked above; nothing was saved' });
    }
    setErrors({});
    setBusy(true);
    const r = await save(parsed.data);
    setBusy(false);
    if (r.ok) {
      // The store holds the saved settings now: the form shows them.
      setEdits(null);
      setMessage({ ok: true, text: 'Settings saved' });
    }
    else setMessage({ ok: false, text: r.error.message });
  };

  const input = (k: 'centralUrl' | 'terminalId' | 'databasePath' | 'syncInterval' | 'cron', type = 'text') => (
    <input
      id={k}
      type={type}
      value={form[k]}
      onChange={(e) => set(k, e.target.value)}
      aria-invalid={errors[k] !== undefined}
      aria-describedby={`${k}-hint ${k}-error`}
    />
  );

  return (
    <form className="settings" onSubmit={(e) => void onSubmit(e)} noValidate aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <Field id="centralUrl" label="Central URL" hint="The HQ sync server, e.g. https://sync.example.com" error={errors.centralUrl}>
        {input('centralUrl', 'url')}
      </Field>
      <Field id="terminalId" label="Terminal id" hint="As provisioned at HQ" error={errors.terminalId}>
        {input('terminalId')}
      </Field>
      <Field id="databasePath" label="POS database" hint="Path of this till's SQLite database" error={errors.databasePath}>
        {input('databasePath')}
      </Field>
      <Field id="apiKey" label="Terminal key" hint={settings.hasKey ? 'A key is set. Type a new one to replace it.' : 'Not set. Paste the key from provisioning.'} error={errors.apiKey}>
        <input id="apiKey" type="password" autoComplete="off" value={form.apiKey} onChange={(e) => set('apiKey', e.target.value)} aria-invalid={errors.apiKey !== undefined} aria-describedby="apiKey-hint apiKey-error" />
      </Field>
      <Field id="syncInterval" label="Sync every (seconds)" hint="10 to 86400" error={errors.syncInterval}>
        {input('syncInterval', 'number')}
      </Field>
      <Field id="cron" label="Cron schedule" hint="Optional, e.g. */5 * * * * (used instead of the interval); empty for none" error={errors.cron}>
        {input('cron')}
      </Field>
      <div className="field">
        <label className="check">
          <input
            id="autoStart"
            type="checkbox"
            checked={form.autoStart}
            disabled={settings.autoStart === null}
            onChange={(e) => set('autoStart', e.target.checked)}
            aria-describedby={settings.autoStart === null ? 'autoStart-hint' : undefined}
          />{' '}
          Start TillSync when this computer starts
        </label>
        {settings.autoStart === null ? (
          <p className="hint" id="autoStart-hint">
            Applies to the installed app only: web mode (and a run from a checkout) never starts at login.
          </p>
        ) : null}
      </div>
      <Field id="supervisorPin" label="Supervisor PIN" hint={settings.hasPin ? 'A PIN is set. Type a new one to change it.' : 'Not set: conflicts cannot be resolved until it is.'} error={errors.supervisorPin}>
        <input id="supervisorPin" type="password" inputMode="numeric" autoComplete="off" value={form.supervisorPin} onChange={(e) => set('supervisorPin', e.target.value)} aria-invalid={errors.supervisorPin !== undefined} aria-describedby="supervisorPin-hint supervisorPin-error" />
      </Field>
      <div className="controls">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save'}
        </button>
      </div>
      {message ? (
        <p className={message.ok ? 'result ok' : 'result bad'} role="status" data-testid="settings-result">
          {message.text}
        </p>
      ) : null}
      <SupportBundleButton />
    </form>
  );
}
