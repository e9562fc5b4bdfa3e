import { useState, type FormEvent } from 'react';
import { ApiError, ConsoleApi, describeError } from '../api.js';

/** The admin token, checked against central before it is kept (in this tab's sessionStorage only). */
export function SignIn({ signedIn, message }: { signedIn: (token: string) => void; message: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError('Enter the admin token.');
    setBusy(true);
    setError(null);
    try {
      await new ConsoleApi(t).fleet({ limit: 1, offset: 0 });
      signedIn(t);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? `That token was refused: ${err.message}.` : describeError(err));
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <h1>TillSync HQ console</h1>
      <form onSubmit={(e) => void submit(e)} className="card" aria-labelledby="signin-title">
        <h2 id="signin-title">Sign in</h2>
        {message ? (
          <p className="banner warn" role="status">
            {message}
          </p>
        ) : null}
        <div className="field">
          <label htmlFor="admin-token">Admin token</label>
          <input
            id="admin-token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-invalid={error !== null}
            aria-describedby="admin-token-hint signin-error"
          />
          <p className="hint" id="admin-token-hint">
            Central prints it once when it first starts (or set TILLSYNC_ADMIN_TOKEN). It is kept in this tab only, until you sign out or close it.
          </p>
        </div>
        <p className="field-error" id="signin-error" role="alert">
          {error ?? ''}
        </p>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
