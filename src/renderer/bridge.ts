/**
 * The bridge the UI talks through: the preload's in Electron, or the web-mode bridge
 * host's, whose session token arrives once in the page URL (`?token=`), is kept for
 * this tab only, and is removed from the address bar.
 */
import type { TillSyncBridge } from '../shared/ipc.js';
import { createWebBridge } from './bridge-web.js';

const TOKEN_KEY = 'tillsync.token';

export function connectBridge(): TillSyncBridge | { error: string } {
  if (window.tillsync) return window.tillsync;
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  const token = fromUrl ?? sessionStorage.getItem(TOKEN_KEY);
  if (!token) return { error: 'This page needs the link printed by `tillsync ui` (or `npm start`), which carries its access token.' };
  return createWebBridge(window.location.origin, token);
}
