import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './drizzle/terminal/schema.ts',
  out: './drizzle/terminal/migrations',
});
