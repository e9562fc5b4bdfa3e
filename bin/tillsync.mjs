#!/usr/bin/env node
// The `tillsync` command: runs the TypeScript CLI (src/agent/cli.ts) through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/agent/cli.ts');
