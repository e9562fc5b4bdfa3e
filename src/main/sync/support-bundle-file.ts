/**
 * Writing a support bundle to the path a person chose: never over an existing file
 * unless asked (`force`), never half-written (a temporary file beside it, then moved
 * into place), and a one-line reason for every path that cannot be used.
 */
import { constants, copyFileSync, linkSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** The path cannot be written (a missing folder, a folder given as the file, a file there already, no permission). */
export class BundlePathError extends Error {
  override name = 'BundlePathError';
}

function kind(path: string): 'file' | 'dir' | 'other' | null {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return null;
  }
}

function why(err: unknown, path: string): BundlePathError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return new BundlePathError(`cannot write ${path}: permission denied`);
  if (code === 'EROFS') return new BundlePathError(`cannot write ${path}: the file system is read-only`);
  if (code === 'ENOSPC') return new BundlePathError(`cannot write ${path}: no space left on the device`);
  if (code === 'EEXIST') return new BundlePathError(`${path} already exists; choose another name, or pass --force to replace it`);
  return new BundlePathError(`cannot write ${path}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Checks a target before the bundle is built, so a bad path fails at once. Returns the absolute path. */
export function checkBundlePath(path: string, opts: { force: boolean }): string {
  if (path.trim() === '') throw new BundlePathError('no output file given');
  const abs = resolve(path);
  const folder = dirname(abs);
  const k = kind(abs);
  if (k === 'dir') throw new BundlePathError(`${abs} is a folder; give a file name, e.g. ${join(abs, 'tillsync-support.tar.gz')}`);
  if (k === 'other') throw new BundlePathError(`${abs} is not a regular file`);
  if (k === 'file' && !opts.force) throw new BundlePathError(`${abs} already exists; choose another name, or pass --force to replace it`);
  const f = kind(folder);
  if (f === null) throw new BundlePathError(`the folder ${folder} does not exist (output file ${abs})`);
  if (f !== 'dir') throw new BundlePathError(`${folder} is not a folder (output file ${abs})`);
  return abs;
}

/** Writes the archive at `path` (see checkBundlePath); without `force` an existing file is never replaced, even one made meanwhile. */
export function writeBundleFile(path: string, data: Buffer, opts: { force: boolean }): string {
  const abs = checkBundlePath(path, opts);
  const tmp = join(dirname(abs), `.${basename(abs)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw why(err, abs);
  }
  try {
    // A hard link fails if the name is taken (no replacing); rename replaces (force).
    if (opts.force) renameSync(tmp, abs);
    else {
      try {
        linkSync(tmp, abs);
      } catch (err) {
        // A file system without hard links (FAT on a USB stick): an exclusive copy still never replaces.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
        copyFileSync(tmp, abs, constants.COPYFILE_EXCL);
      }
      unlinkSync(tmp);
    }
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw why(err, abs);
  }
  return abs;
}
