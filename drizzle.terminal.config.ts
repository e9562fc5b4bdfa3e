import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  // Only the engine's own tables: POS tables are created or extended from the catalog at start.
  schema: './drizzle/terminal/sync-tables.ts',
  out: './drizzle/terminal/migrations',
});
