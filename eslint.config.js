// @ts-check
/**
 * Lint rules, including the environment boundaries of DESIGN.md: src/shared is
 * pure; src/main/sync, src/agent and src/server are Node; only src/main (outside sync)
 * and src/preload touch Electron; only src/renderer and src/console (HQ's console) touch the DOM. The engine
 * (src/main/sync) imports nothing outside itself but src/shared; nothing but the
 * agent imports src/agent. (Import cycles anywhere in src/ fail test/shared/no-cycles.test.ts.)
 */
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'net', 'http', 'https', 'url', 'stream', 'worker_threads'];
const NODE_LIBS = ['better-sqlite3', 'pg', '@electric-sql/*', 'fastify', '@fastify/*', 'socket.io', 'pino', 'prom-client', 'drizzle-orm/*'];
const UI_LIBS = ['react', 'react-dom', 'react-dom/*', 'zustand', 'zustand/*'];

/** @param {string[]} groups @param {string} why @param {{ regex: string, message: string }[]} [more] */
const forbid = (groups, why, more = []) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: groups, message: why }, ...more] }],
});

const ENGINE_GROUPS = ['electron', 'electron/*', ...UI_LIBS, '**/renderer/**', '**/preload/**', '**/server/**', '**/agent/**'];
const ENGINE_WHY = 'the sync engine is plain Node: it never imports electron, the UI, the server or the agent';
/**
 * The engine is self-contained: a relative import from a file `depth` folders below
 * src/main/sync may climb out of src/main/sync only to reach src/shared.
 * @param {number} depth
 */
const engineFolder = (depth) => ({
  files: [`src/main/sync/${'*/'.repeat(depth)}*.{ts,tsx}`],
  rules: forbid(ENGINE_GROUPS, ENGINE_WHY, [
    {
      regex: `^(\\.\\./){${depth + 1}}(?!\\.\\./shared/)`,
      message: 'the sync engine imports only src/main/sync and src/shared (the companion, the agent and the stack build on it, not the other way round)',
    },
  ]),
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'build/**', 'dist/**', 'data/**', 'coverage/**', 'test-results/**', 'playwright-report/**', 'bench/results/**', '.test-build-*/**'] },
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
      ['electron', ...NODE_BUILTINS, ...NODE_LIBS, ...UI_LIBS, '**/main/**', '**/server/**', '**/renderer/**', '**/preload/**', '**/agent/**'],
      'src/shared is pure: no electron, DOM, node-only or UI imports, and nothing from other layers',
    ),
  },
  ...[0, 1, 2, 3].map(engineFolder),
  {
    files: ['src/main/**'],
    ignores: ['src/main/sync/**'],
    rules: forbid([...UI_LIBS, '**/renderer/**', '**/server/**', '**/agent/**'], 'the main process has no UI, server or agent code'),
  },
  {
    files: ['src/agent/**'],
    rules: forbid(
      ['electron', 'electron/*', ...UI_LIBS, '**/renderer/**', '**/preload/**', '**/server/**'],
      'the agent (CLI, web mode, simulator) is plain Node: no electron, UI or server code',
    ),
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
    files: ['src/console/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: forbid(
      ['electron', 'electron/*', ...NODE_BUILTINS, ...NODE_LIBS, '**/main/**', '**/server/**', '**/preload/**', '**/agent/**'],
      "HQ's console is a web page: it talks to central only over HTTP and socket.io, typed by src/shared",
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
