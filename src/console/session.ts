/**
 * The admin token lives in this tab's sessionStorage only: never localStorage, never
 * the URL. Closing the tab forgets it; signing out removes it.
 */
const KEY = 'tillsync.console.adminToken';

export function savedToken(storage: Storage = sessionStorage): string | null {
  const t = storage.getItem(KEY);
  return t && t.trim() !== '' ? t : null;
}

export function saveToken(token: string, storage: Storage = sessionStorage): void {
  storage.setItem(KEY, token);
}

export function forgetToken(storage: Storage = sessionStorage): void {
  storage.removeItem(KEY);
}
