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
    build: { rollupOptions: { input: { index: resolve('src/renderer/index.html') } } },
  },
});
