import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.js';
import { connectBridge } from './bridge.js';
import { AppStoreContext } from './hooks.js';
import { createAppStore } from './store.js';
import './styles.css';

const root = createRoot(document.getElementById('root') as HTMLElement);
const bridge = connectBridge();
if ('missingToken' in bridge) {
  root.render(
    <main className="fatal" role="alert">
      <h1>TillSync</h1>
      <p>
        This page needs the link printed by <code>tillsync ui</code> (or <code>npm start</code>), which carries its access token.
      </p>
    </main>,
  );
} else {
  const store = createAppStore(bridge);
  root.render(
    <StrictMode>
      <AppStoreContext.Provider value={store}>
        <App />
      </AppStoreContext.Provider>
    </StrictMode>,
  );
}
