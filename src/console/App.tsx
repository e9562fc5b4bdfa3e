import { useCallback, useEffect, useMemo, useState } from 'react';
import { ConsoleApi } from './api.js';
import { Ctx, type ConsoleContext } from './hooks.js';
import { connectLive, type LinkState } from './live.js';
import { forgetToken, savedToken, saveToken } from './session.js';
import { AnalyticsView } from './views/AnalyticsView.js';
import { ConflictsView } from './views/ConflictsView.js';
import { FleetView } from './views/FleetView.js';
import { SignIn } from './views/SignIn.js';
import { StoresView } from './views/StoresView.js';
import { TerminalView } from './views/TerminalView.js';

type Screen = { kind: 'fleet'; storeId?: string } | { kind: 'stores' } | { kind: 'terminal'; terminalId: string } | { kind: 'conflicts' } | { kind: 'analytics' };
type Tab = 'fleet' | 'stores' | 'conflicts' | 'analytics';

const TABS: readonly { readonly tab: Tab; readonly label: string }[] = [
  { tab: 'fleet', label: 'Fleet' },
  { tab: 'stores', label: 'Stores' },
  { tab: 'conflicts', label: 'Conflicts' },
  { tab: 'analytics', label: 'Analytics' },
];

const LINK_TEXT: Record<LinkState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  lost: 'Reconnecting…',
  refused: 'Live updates refused',
};

/** Signed out: the sign-in form. Signed in: the views, over one API client and one live link for the token. */
export function App() {
  const [token, setToken] = useState<string | null>(() => savedToken());
  const [message, setMessage] = useState<string | null>(null);
  const signOut = useCallback((why?: string) => {
    forgetToken();
    setToken(null);
    setMessage(why ?? null);
  }, []);
  if (!token) {
    return (
      <SignIn
        message={message}
        signedIn={(t) => {
          saveToken(t);
          setMessage(null);
          setToken(t);
        }}
      />
    );
  }
  return <Console key={token} token={token} signOut={signOut} />;
}

function Console({ token, signOut }: { token: string; signOut: (why?: string) => void }) {
  const api = useMemo(() => new ConsoleApi(token), [token]);
  const live = useMemo(() => connectLive(token), [token]);
  const [link, setLink] = useState<{ state: LinkState; detail: string | null }>({ state: 'connecting', detail: null });
  useEffect(() => {
    const off = live.onState((state, detail) => setLink({ state, detail }));
    live.start();
    return () => {
      off();
      live.stop();
    };
  }, [live]);
  const ctx: ConsoleContext = useMemo(() => ({ api, live, signOut }), [api, live, signOut]);
  const [screen, setScreen] = useState<Screen>({ kind: 'fleet' });
  const tab: Tab = screen.kind === 'terminal' ? 'fleet' : screen.kind;
  const openTerminal = (terminalId: string) => setScreen({ kind: 'terminal', terminalId });

  return (
    <Ctx.Provider value={ctx}>
      <div className="app console">
        <header className="top">
          <h1>TillSync HQ</h1>
          <div className="row">
            <span className={`link-state link-${link.state}`} data-testid="link-state" title={link.detail ?? undefined} role="status">
              {LINK_TEXT[link.state]}
            </span>
            <button type="button" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
        </header>
        <nav className="tabs" aria-label="Views">
          {TABS.map((t) => (
            <button key={t.tab} type="button" className={tab === t.tab ? 'tab active' : 'tab'} aria-current={tab === t.tab ? 'page' : undefined} onClick={() => setScreen({ kind: t.tab })}>
              {t.label}
            </button>
          ))}
        </nav>
        <main>
          {screen.kind === 'fleet' ? <FleetView key={screen.storeId ?? ''} initialStoreId={screen.storeId ?? ''} open={openTerminal} /> : null}
          {screen.kind === 'stores' ? <StoresView showStore={(storeId) => setScreen({ kind: 'fleet', storeId })} /> : null}
          {screen.kind === 'terminal' ? <TerminalView terminalId={screen.terminalId} back={() => setScreen({ kind: 'fleet' })} /> : null}
          {screen.kind === 'conflicts' ? <ConflictsView /> : null}
          {screen.kind === 'analytics' ? <AnalyticsView /> : null}
        </main>
      </div>
    </Ctx.Provider>
  );
}
