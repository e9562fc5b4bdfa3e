// @ts-check
/**
 * Lint rules, including the environment boundaries of DESIGN.md: src/shared is
 * pure; src/main/sync and src/server are Node; only src/main (outside sync) and
 * src/preload touch Electron; only src/renderer touches the DOM.
 */
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https', 'url', 'stream', 'worker_threads'];
const NODE_LIBS = ['better-sqlite3', 'pg', '@electric-sql/*', 'fastify', '@fastify/*', 'socket.io', 'pino', 'prom-client', 'drizzle-orm/*'];
const UI_LIBS = ['react', 'react-dom', 'react-dom/*', 'zustand', 'zustand/*'];

/** @param {string[]} groups @param {string} why */
const forbid = (groups, why) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: groups, message: why }] }],
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'data/**', 'coverage/**', 'test-results/**', 'playwright-report/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/shared/**'],
    rules: forbid(
      ['electron', ...NODE_BUILTINS, ...NODE_LIBS, ...UI_LIBS, '**/main/**', '**/server/**', '**/renderer/**', '**/preload/**'],
      'src/shared is pure: no electron, DOM, node-only or UI imports, and nothing from other layers',
    ),
  },
  {
    files: ['src/main/sync/**'],
    rules: forbid(
      ['electron', 'electron/*', ...UI_LIBS, '**/renderer/**', '**/preload/**', '**/server/**'],
      'the sync engine is plain Node: it never imports electron, the UI or the server',
    ),
  },
  {
    files: ['src/main/**'],
    ignores: ['src/main/sync/**'],
    rules: forbid([...UI_LIBS, '**/renderer/**', '**/server/**'], 'the main process has no UI or server code'),
  },
  {
    files: ['src/preload/**'],
    rules: forbid(
      [...NODE_BUILTINS, ...NODE_LIBS, ...UI_LIBS, '**/main/**', '**/server/**', '**/renderer/**'],
      'the preload only bridges the IPC contract of src/shared',
    ),
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: forbid(
      ['electron', 'electron/*', ...NODE_BUILTINS, ...NODE_LIBS, '**/main/**', '**/server/**', '**/preload/**'],
      'the renderer talks to the engine only through the bridge typed in src/shared',
    ),
  },
  {
    files: ['src/server/**'],
    rules: forbid(['electron', 'electron/*', ...UI_LIBS, '**/main/**', '**/renderer/**', '**/preload/**'], 'the central server has no Electron, UI or terminal code'),
  },
  {
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
