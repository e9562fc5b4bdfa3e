/**
 * The bridge the UI talks through: the preload's in Electron, or the web-mode bridge
 * host's, whose session token arrives once in the page URL (`?token=`), is kept for
 * this tab only, and is removed from the address bar.
 */
import type { TillSyncBridge } from '../shared/ipc.js';
import { createWebBridge } from './bridge-web.js';

const TOKEN_KEY = 'tillsync.token';

/** The bridge, or why there is none: a web-mode page opened without its token (main.tsx says what to open instead). */
export function connectBridge(): TillSyncBridge | { readonly missingToken: true } {
  if (window.tillsync) return window.tillsync;
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  const token = fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
  if (!token) return { missingToken: true };
  return createWebBridge(window.location.origin, token);
}
