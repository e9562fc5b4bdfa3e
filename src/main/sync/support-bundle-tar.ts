/**
 * A small tar writer (POSIX ustar, regular files and folders) and gzip: enough for a
 * support bundle that `tar -xzf`, 7-Zip and Windows' own tar open. No dependency: the
 * archive is built in memory (a bundle is a few megabytes at most).
 */
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Path inside the archive, `/`-separated, relative (no `..`); a folder ends with `/`. */
  readonly name: string;
  /** A file's content (absent for a folder). */
  readonly data?: Buffer | string;
  /** Modification time (default: now). */
  readonly mtime?: Date;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as ustar writes numeric fields.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** Splits a path into ustar's prefix (up to 155 bytes) and name (up to 100 bytes); null when it cannot be. */
function splitName(path: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.lastIndexOf('/', path.length - 2); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  return null;
}

function checkName(name: string): void {
  if (name === '' || name.startsWith('/') || name.split('/').some((p) => p === '..') || name.includes('\\') || name.includes('\0')) {
    throw new Error(`tar: unsafe entry name ${JSON.stringify(name)}`);
  }
}

function header(entry: TarEntry, size: number, folder: boolean): Buffer {
  const parts = splitName(entry.name);
  if (!parts) throw new Error(`tar: entry name too long: ${entry.name}`);
  const h = Buffer.alloc(BLOCK, 0);
  const put = (text: string, offset: number, width: number) => h.write(text, offset, width, 'utf8');
  put(parts.name, 0, 100);
  put(octal(folder ? 0o755 : 0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(Math.floor((entry.mtime ?? new Date()).getTime() / 1000), 12), 136, 12);
  put('        ', 148, 8);
  put(folder ? '5' : '0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put('tillsync', 265, 32);
  put('tillsync', 297, 32);
  put(parts.prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** The tar archive of these entries (uncompressed). */
export function tar(entries: readonly TarEntry[]): Buffer {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    checkName(e.name);
    const folder = e.name.endsWith('/');
    const data = folder ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? '', 'utf8');
    chunks.push(header(e, data.length, folder), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) chunks.push(Buffer.alloc(pad, 0));
  }
  // The end of an archive: two zero blocks.
  chunks.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(chunks);
}

/** The .tar.gz of these entries. */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(tar(entries), { level: 9 });
}
