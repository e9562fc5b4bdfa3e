#!/usr/bin/env node
// The `tillsync` command: runs the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/main/sync/cli.ts');
