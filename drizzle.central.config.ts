import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './drizzle/central/schema.ts',
  out: './drizzle/central/migrations',
});
