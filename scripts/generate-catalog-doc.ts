/** Writes docs/catalog.md from the catalog. */
import { writeFileSync } from 'node:fs';
import { renderCatalogDoc } from './catalog-doc.js';

writeFileSync(new URL('../docs/catalog.md', import.meta.url), renderCatalogDoc());
console.log('wrote docs/catalog.md');
