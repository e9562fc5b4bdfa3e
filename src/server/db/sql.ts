/** Quotes an SQL identifier (names come from the catalog, never from a request). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal (for names from the catalog or the code, never from a request). */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
