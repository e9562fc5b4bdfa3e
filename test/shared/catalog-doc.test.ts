import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderCatalogDoc } from '../../scripts/catalog-doc.js';
import { CATALOG } from '../../src/shared/catalog/index.js';

describe('docs/catalog.md', () => {
  const committed = readFileSync(new URL('../../docs/catalog.md', import.meta.url), 'utf8');

  it('is what the catalog renders today (run npm run docs:catalog after changing the catalog)', () => {
    expect(committed).toBe(renderCatalogDoc());
  });

  it('documents every table, every central column and the stock rename', () => {
    for (const e of CATALOG) {
      expect(committed).toContain(`## ${e.entityType} (\`${e.centralName}\`)`);
      for (const c of e.wireColumns) expect(committed).toContain(`| \`${c.name}\` |`);
    }
    expect(committed).toContain('| `master_stock_quantity` | `stock_quantity` (renamed) |');
  });
});
