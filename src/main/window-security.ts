/**
 * The companion window's hardening, as functions over the slices of Electron's
 * webContents and session they use (so tests drive them without Electron):
 * navigation and new windows denied, every permission denied, and a strict CSP
 * header on everything the renderer loads. Also what a launch does (single
 * instance, hidden at login) and which tray icon file a state uses.
 */
import { join } from 'node:path';
import type { TrayState } from '../shared/tray-state.js';

/** The renderer's policy: our own scripts and styles only, no eval, no remote calls. */
export const RENDERER_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/** The dev server (electron-vite dev) needs its websocket for hot reload and injects styles inline; the build needs neither. */
export function rendererCsp(devServerUrl?: string): string {
  if (!devServerUrl) return RENDERER_CSP;
  const ws = devServerUrl.replace(/^http/, 'ws');
  return RENDERER_CSP.replace("connect-src 'self'", `connect-src 'self' ${ws}`).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'");
}

export interface NavigationEventLike {
  preventDefault(): void;
}

export interface WebContentsLike {
  on(event: 'will-navigate' | 'will-redirect', listener: (event: NavigationEventLike, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: NavigationEventLike) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

export interface HeadersDetailsLike {
  readonly url: string;
  readonly responseHeaders?: Record<string, string[] | string>;
}

export interface SessionLike {
  setPermissionRequestHandler(handler: (wc: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
  setPermissionCheckHandler(handler: (wc: unknown, permission: string) => boolean): void;
  webRequest: {
    onHeadersReceived(listener: (details: HeadersDetailsLike, callback: (response: { responseHeaders?: Record<string, string[] | string> }) => void) => void): void;
  };
}

export interface SecurityLog {
  warn(obj: object, msg: string): void;
}

/** Denies navigation away from our renderer, new windows, webviews and every permission. */
export function secureWebContents(wc: WebContentsLike, isTrusted: (url: string) => boolean, log: SecurityLog): void {
  const guard = (kind: string) => (event: NavigationEventLike, url: string) => {
    if (isTrusted(url)) return;
    event.preventDefault();
    log.warn({ url, kind }, 'blocked navigation away from the companion');
  };
  wc.on('will-navigate', guard('navigate'));
  wc.on('will-redirect', guard('redirect'));
  wc.on('will-attach-webview', (event) => event.preventDefault());
  wc.setWindowOpenHandler(({ url }) => {
    log.warn({ url }, 'blocked a new window');
    return { action: 'deny' };
  });
}

/** No permission (camera, notifications, geolocation ...) is ever granted; every response carries the CSP. */
export function secureSession(session: SessionLike, csp: string): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...(details.responseHeaders ?? {}) };
    for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-security-policy') delete headers[k];
    callback({ responseHeaders: { ...headers, 'Content-Security-Policy': [csp] } });
  });
}

export type Launch = 'quit' | 'hidden' | 'show';

/** A second launch quits (the first one is focused); a launch at login stays in the tray. */
export function launchMode(gotSingleInstanceLock: boolean, hidden: boolean): Launch {
  if (!gotSingleInstanceLock) return 'quit';
  return hidden ? 'hidden' : 'show';
}

/**
 * resources/tray/<state>-<theme>-16.png (the 32 px one is its @2x). macOS menu bars
 * and dark taskbars get the icons drawn for dark backgrounds.
 */
export function trayIconPath(resourcesDir: string, state: TrayState, darkBackground: boolean): string {
  return join(resourcesDir, 'tray', `${state}-${darkBackground ? 'dark' : 'light'}-16.png`);
}
