/**
 * Schema parity lives with the engine (src/main/sync/parity.ts), so the companion's
 * support bundle can include it too; the agent's `parity` command reads it from here.
 */
export * from '../main/sync/parity.js';
