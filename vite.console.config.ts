import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * Builds HQ's fleet console (src/console) into out/console, which central serves at
 * /console (src/server/console-route.ts). `npm run build` and `npm start` build it.
 */
export default defineConfig({
  root: resolve(import.meta.dirname, 'src/console'),
  // Central serves the page and its assets under /console/.
  base: '/console/',
  // React's automatic JSX runtime through esbuild, as the companion's renderer.
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: resolve(import.meta.dirname, 'out/console'),
    emptyOutDir: true,
    rollupOptions: { input: { index: resolve(import.meta.dirname, 'src/console/index.html') } },
  },
});
