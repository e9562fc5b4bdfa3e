import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';

/** Builds the Electron companion: main process, preload bridge and renderer. */
export default defineConfig({
  main: {
    build: { rollupOptions: { input: { index: resolve('src/main/index.ts') } } },
  },
  preload: {
    // A sandboxed preload must be one CommonJS file: no ESM, and nothing to require but electron.
    build: { externalizeDeps: false, rollupOptions: { external: ['electron'], input: { index: resolve('src/preload/index.ts') }, output: { format: 'cjs', entryFileNames: '[name].cjs' } } },
  },
  renderer: {
    root: resolve('src/renderer'),
    // React's automatic JSX runtime through esbuild: no Babel plugin needed.
    esbuild: { jsx: 'automatic' },
    // Relative asset URLs, so the built page loads from file:// in Electron and from / in web mode.
    base: './',
    // The dev server injects styles as <style> tags; only there does the page's CSP allow them.
    plugins: [
      {
        name: 'tillsync-dev-csp',
        apply: 'serve',
        transformIndexHtml: (html: string) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
      },
    ],
    build: { rollupOptions: { input: { index: resolve('src/renderer/index.html') } } },
  },
});
