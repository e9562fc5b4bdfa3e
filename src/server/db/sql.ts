/** Quotes an SQL identifier (names come from the catalog, never from a request). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
