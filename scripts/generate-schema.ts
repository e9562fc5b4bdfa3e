/** Writes drizzle/{central,terminal}/schema.ts from the catalog (see schema-source.ts). */
import { writeFileSync } from 'node:fs';
import { renderCentralSchema, renderTerminalSchema } from './schema-source.js';

writeFileSync(new URL('../drizzle/central/schema.ts', import.meta.url), renderCentralSchema());
writeFileSync(new URL('../drizzle/terminal/schema.ts', import.meta.url), renderTerminalSchema());
console.log('wrote drizzle/central/schema.ts and drizzle/terminal/schema.ts');
