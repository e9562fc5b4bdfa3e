/**
 * The window's hardening through the slices of webContents and session it uses:
 * navigation away, redirects, webviews and new windows are denied; no permission is
 * ever granted; every response gets the CSP (replacing any other); a second launch
 * quits and a login launch stays hidden.
 */
import { describe, expect, it } from 'vitest';
import { trustedRenderer } from '../../src/main/ipc.js';
import {
  launchMode,
  RENDERER_CSP,
  rendererCsp,
  secureSession,
  secureWebContents,
  trayIconPath,
  type HeadersDetailsLike,
  type NavigationEventLike,
} from '../../src/main/window-security.js';

type Nav = (event: NavigationEventLike, url: string) => void;

function fakeContents() {
  const listeners = new Map<string, Nav>();
  let openHandler: ((d: { url: string }) => { action: 'deny' }) | undefined;
  return {
    wc: {
      on(event: string, listener: Nav) {
        listeners.set(event, listener);
        return this;
      },
      setWindowOpenHandler(h: (d: { url: string }) => { action: 'deny' }) {
        openHandler = h;
      },
    },
    fire(event: string, url = '') {
      let prevented = false;
      listeners.get(event)?.({ preventDefault: () => (prevented = true) }, url);
      return prevented;
    },
    open: (url: string) => openHandler?.({ url }),
  };
}

const APP = 'file:///opt/TillSync/resources/app.asar/out/renderer/index.html';

describe('window security', () => {
  it('denies navigation and redirects away from the renderer, webviews and new windows, and logs them', () => {
    const f = fakeContents();
    const warned: string[] = [];
    secureWebContents(f.wc, trustedRenderer(APP), { warn: (o) => warned.push(JSON.stringify(o)) });
    expect(f.fire('will-navigate', 'https://evil.example/')).toBe(true);
    expect(f.fire('will-redirect', 'file:///etc/passwd')).toBe(true);
    expect(f.fire('will-navigate', APP)).toBe(false);
    expect(f.fire('will-attach-webview')).toBe(true);
    expect(f.open('https://example.com/')).toEqual({ action: 'deny' });
    expect(warned.join()).toContain('evil.example');
  });

  it('grants no permission and puts our CSP on every response, replacing any other', () => {
    let request: ((wc: unknown, p: string, cb: (g: boolean) => void) => void) | undefined;
    let check: ((wc: unknown, p: string) => boolean) | undefined;
    let headers: ((d: HeadersDetailsLike, cb: (r: { responseHeaders?: Record<string, string[] | string> }) => void) => void) | undefined;
    secureSession(
      {
        setPermissionRequestHandler: (h) => (request = h),
        setPermissionCheckHandler: (h) => (check = h),
        webRequest: { onHeadersReceived: (l) => (headers = l) },
      },
      RENDERER_CSP,
    );
    const granted: boolean[] = [];
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read']) request?.(null, p, (g) => granted.push(g));
    expect(granted).toEqual([false, false, false, false]);
    expect(check?.(null, 'media')).toBe(false);
    let out: Record<string, string[] | string> | undefined;
    headers?.({ url: APP, responseHeaders: { 'content-security-policy': ["default-src *; script-src 'unsafe-eval'"], 'X-Other': ['1'] } }, (r) => (out = r.responseHeaders));
    expect(out).toEqual({ 'X-Other': ['1'], 'Content-Security-Policy': [RENDERER_CSP] });
    expect(RENDERER_CSP).toContain("script-src 'self'");
    expect(RENDERER_CSP).not.toMatch(/unsafe-(eval|inline)/);
  });

  it('opens the dev server websocket only in development', () => {
    expect(rendererCsp()).toBe(RENDERER_CSP);
    expect(rendererCsp('http://localhost:5173')).toContain("connect-src 'self' ws://localhost:5173");
    expect(rendererCsp('http://localhost:5173')).toContain("style-src 'self' 'unsafe-inline'");
    expect(rendererCsp('http://localhost:5173')).toContain("script-src 'self';");
  });

  it('a second launch quits; a login launch stays in the tray; a normal one shows the window', () => {
    expect(launchMode(false, false)).toBe('quit');
    expect(launchMode(false, true)).toBe('quit');
    expect(launchMode(true, true)).toBe('hidden');
    expect(launchMode(true, false)).toBe('show');
  });

  it('picks the 16 px icon for the state and the menu bar background', () => {
    expect(trayIconPath('/r', 'offline', true)).toBe('/r/tray/offline-dark-16.png');
    expect(trayIconPath('/r', 'synced', false)).toBe('/r/tray/synced-light-16.png');
  });
});
