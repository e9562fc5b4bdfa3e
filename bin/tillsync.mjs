#!/usr/bin/env node
// The `tillsync` command. Which code it runs:
//   - a development install (tsx installed, src/ present): the TypeScript source,
//     src/agent/cli.ts, through tsx, so it never runs a stale build;
//   - a production install (`npm ci && npm run build && npm prune --omit=dev`: no tsx):
//     the build, build/agent/cli.js;
//   - neither: a one-line error saying to run `npm run build`, exit 2.
// In development, run the build itself with `node build/agent/cli.js <command>` (or
// `npm run serve:agent`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = new URL('../src/agent/cli.ts', import.meta.url);
const BUILD = new URL('../build/agent/cli.js', import.meta.url);

/** The code to run, from what is installed. */
function chooseEntry({ tsx, source, build }) {
  if (tsx && source) return 'source';
  if (build) return 'build';
  return 'none';
}

function tsxInstalled() {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

const entry = chooseEntry({ tsx: tsxInstalled(), source: existsSync(SOURCE), build: existsSync(BUILD) });
if (entry === 'none') {
  process.stderr.write(
    `tillsync: no build to run (${fileURLToPath(BUILD)} is missing) and no tsx to run the TypeScript source: ` +
      'run `npm run build` (before `npm prune --omit=dev`), or `npm ci` for a development install\n',
  );
  process.exit(2);
}
if (entry === 'source') {
  const { register } = await import('tsx/esm/api');
  register();
}
const cli = await import((entry === 'source' ? SOURCE : BUILD).href);
cli.runAndExit();
