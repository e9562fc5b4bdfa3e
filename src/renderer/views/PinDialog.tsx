import { useEffect, useRef, useState, type FormEvent } from 'react';

/** Asks for the supervisor PIN; `submit` returns an error message to show, or null when done. */
export function PinDialog({ title, submit, cancel }: { title: string; submit: (pin: string) => Promise<string | null>; cancel: () => void }) {
  const [pin, setPin] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') cancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [cancel]);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    if (!pin) return setError('Enter the supervisor PIN');
    setBusy(true);
    const err = await submit(pin);
    setBusy(false);
    if (err) {
      setError(err);
      setPin('');
      input.current?.focus();
    }
  };

  return (
    <div className="overlay">
      <form className="dialog" role="dialog" aria-modal="true" aria-labelledby="pin-title" onSubmit={(e) => void onSubmit(e)}>
        <h2 id="pin-title">{title}</h2>
        <label htmlFor="pin">Supervisor PIN</label>
        <input id="pin" ref={input} type="password" inputMode="numeric" autoComplete="off" value={pin} onChange={(e) => setPin(e.target.value)} aria-invalid={error !== null} aria-describedby="pin-error" />
        <p id="pin-error" className="field-error" role="alert">
          {error ?? ''}
        </p>
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Resolving…' : 'Confirm'}
          </button>
          <button type="button" onClick={cancel}>
            Cancel
          </button>
        </div>
      </form>
    </div>
  );
}
