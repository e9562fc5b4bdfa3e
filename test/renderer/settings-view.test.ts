/**
 * The settings form shows the saved settings from its first paint. It used to start
 * from an empty form and copy the settings in after the first render, so for a frame
 * the central URL was blank and the auto-start box ticked, even in web mode where it is
 * off and disabled (an end-to-end test caught that frame on CI).
 */
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { AppStoreContext } from '../../src/renderer/hooks.js';
import { createAppStore } from '../../src/renderer/store.js';
import { SettingsView } from '../../src/renderer/views/SettingsView.js';
import { createBridge, type SettingsView as Settings } from '../../src/shared/ipc.js';

function firstPaint(settings: Settings): string {
  const bridge = createBridge({ invoke: () => Promise.resolve({ ok: true, value: null }), on: () => () => undefined });
  const store = createAppStore(bridge);
  store.setState({ settings });
  // Rendered once, as a string: React reads the store's initial state for that, so it is this one.
  const loaded = { ...store, getInitialState: () => store.getState() };
  return renderToStaticMarkup(createElement(AppStoreContext.Provider, { value: loaded }, createElement(SettingsView)));
}

/** The opening tag of the element with this id. */
const tagOf = (html: string, id: string) => html.match(new RegExp(`<[^>]*id="${id}"[^>]*>`))?.[0] ?? '';

describe('the settings form', () => {
  it('shows the saved settings at its first paint: web mode, auto-start off and disabled', () => {
    const html = firstPaint({ centralUrl: 'http://central.example:4000', terminalId: 'till-9', syncInterval: 120, autoStart: null, hasPin: false, hasKey: true });
    expect(tagOf(html, 'centralUrl')).toContain('value="http://central.example:4000"');
    expect(tagOf(html, 'syncInterval')).toContain('value="120"');
    const box = tagOf(html, 'autoStart');
    expect(box).not.toBe('');
    expect(box).not.toMatch(/\bchecked\b/);
    expect(box).toMatch(/\bdisabled\b/);
  });

  it('an installed app with auto-start on shows it ticked', () => {
    const html = firstPaint({ centralUrl: 'http://central.example:4000', syncInterval: 300, autoStart: true, hasPin: true, hasKey: true });
    expect(tagOf(html, 'autoStart')).toMatch(/\bchecked\b/);
  });
});
