/**
 * Companion releases in central's database, so every instance serves them: a release
 * is a version and its files (channel files and artifacts), each file its 1 MiB
 * chunks. An upload streams into chunks under its own id in short statements (no
 * transaction stays open while bytes arrive: that would hold back every pull), then
 * one short transaction checks it against the release's channel files and makes it
 * the file. A refused or broken upload leaves nothing behind.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isChannelFile, type Release, type ReleaseFile } from '../../shared/update-protocol.js';
import type { Database, Queryable } from '../db/database.js';
import { badRequest, conflict, HttpError, notFound } from '../errors.js';
import { CHANNEL_FILE_MAX_BYTES, readChannelFile, type ChannelFile } from './channel-file.js';

export const CHUNK_BYTES = 1024 * 1024;

interface FileRow {
  version: string;
  name: string;
  upload_id: string;
  size: string | number;
  sha512: string;
  content: string | null;
  uploaded_at: string | Date;
}

/** A stored file, for reading its bytes. */
export interface StoredFile {
  readonly version: string;
  readonly name: string;
  readonly uploadId: string;
  readonly size: number;
  readonly sha512: string;
  readonly content: string | null;
}

const iso = (v: string | Date) => (v instanceof Date ? v.toISOString() : new Date(v).toISOString());
const stored = (r: FileRow): StoredFile => ({ version: r.version, name: r.name, uploadId: r.upload_id, size: Number(r.size), sha512: r.sha512, content: r.content });

function tooLarge(limit: number): HttpError {
  return new HttpError(413, 'FILE_TOO_LARGE', `a release file may be at most ${limit} bytes (TILLSYNC_UPDATE_MAX_BYTES)`);
}

/** A channel file's problems with the artifacts already uploaded: the names it gives whose sha512 or size differ. */
function mismatches(channel: ChannelFile, name: string, artifacts: ReadonlyMap<string, { sha512: string; size: number }>): string[] {
  const out: string[] = [];
  for (const [file, want] of channel.files) {
    const have = artifacts.get(file);
    if (!have) continue;
    if (have.sha512 !== want.sha512) out.push(`${name} gives ${file} the sha512 ${want.sha512.slice(0, 12)}…, the uploaded file has ${have.sha512.slice(0, 12)}…`);
    else if (want.size !== undefined && want.size !== have.size) out.push(`${name} gives ${file} ${want.size} bytes, the uploaded file has ${have.size}`);
  }
  return out;
}

export class ReleaseStore {
  constructor(
    private readonly db: Database,
    private readonly maxFileBytes: number,
  ) {}

  async create(version: string, notes: string | undefined): Promise<Release> {
    const r = await this.db.query('INSERT INTO sync_releases (version, notes) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING RETURNING version', [version, notes ?? null]);
    if (r.rows.length === 0) throw conflict('RELEASE_EXISTS', `release ${version} exists already; upload its files again to replace them`);
    return this.get(version);
  }

  async list(): Promise<Release[]> {
    const releases = await this.db.query<{ version: string; notes: string | null; created_at: string | Date }>(
      'SELECT version, notes, created_at FROM sync_releases ORDER BY created_at DESC, version DESC LIMIT 500',
    );
    const files = await this.db.query<FileRow>(
      'SELECT f.* FROM sync_release_files f JOIN (SELECT version FROM sync_releases ORDER BY created_at DESC, version DESC LIMIT 500) r USING (version) ORDER BY f.name',
    );
    return releases.rows.map((r) => describe(r, files.rows.filter((f) => f.version === r.version)));
  }

  async get(version: string, q: Queryable = this.db): Promise<Release> {
    const r = await q.query<{ version: string; notes: string | null; created_at: string | Date }>('SELECT version, notes, created_at FROM sync_releases WHERE version = $1', [version]);
    const row = r.rows[0];
    if (!row) throw notFound('UNKNOWN_RELEASE', `no release ${version}; create it first (POST /api/admin/updates/releases)`);
    return describe(row, await this.files(version, q));
  }

  async files(version: string, q: Queryable = this.db): Promise<FileRow[]> {
    return (await q.query<FileRow>('SELECT * FROM sync_release_files WHERE version = $1 ORDER BY name', [version])).rows;
  }

  /** Whether every channel file of the release names only uploaded artifacts (and it has one): the feed may offer it. */
  async servable(version: string, q: Queryable = this.db): Promise<boolean> {
    const files = await this.files(version, q);
    const release = describe({ version, notes: null, created_at: new Date() }, files);
    return files.some((f) => isChannelFile(f.name)) && Object.values(release.missing).every((m) => m.length === 0);
  }

  /** The file of that name of the newest release that has one. */
  async newest(name: string): Promise<StoredFile | undefined> {
    const r = await this.db.query<FileRow>(
      'SELECT f.* FROM sync_release_files f JOIN sync_releases r USING (version) WHERE f.name = $1 ORDER BY r.created_at DESC, r.version DESC LIMIT 1',
      [name],
    );
    return r.rows[0] ? stored(r.rows[0]) : undefined;
  }

  async file(version: string, name: string): Promise<StoredFile | undefined> {
    const r = await this.db.query<FileRow>('SELECT * FROM sync_release_files WHERE version = $1 AND name = $2', [version, name]);
    return r.rows[0] ? stored(r.rows[0]) : undefined;
  }

  /**
   * Stores `body` as the release's file `name`, replacing the one before. 413 over the
   * size limit (`declaredLength`, from Content-Length, is checked before reading); a
   * channel file must be valid, of this release's version, and agree with the
   * artifacts uploaded; an artifact must match the sha512 (and size) every channel file
   * of the release gives it (400 SHA512_MISMATCH).
   */
  async upload(version: string, name: string, body: Readable, declaredLength: number | undefined): Promise<{ size: number; sha512: string }> {
    const channel = isChannelFile(name);
    const limit = channel ? Math.min(CHANNEL_FILE_MAX_BYTES, this.maxFileBytes) : this.maxFileBytes;
    if (declaredLength !== undefined && declaredLength > limit) throw tooLarge(limit);
    await this.get(version); // 404 before any byte is read
    // Chunks of uploads of this file that never finished (an instance died under them).
    await this.db.query(
      `DELETE FROM sync_release_chunks c WHERE c.version = $1 AND c.name = $2 AND c.created_at < now() - interval '1 day'
         AND NOT EXISTS (SELECT 1 FROM sync_release_files f WHERE f.upload_id = c.upload_id)`,
      [version, name],
    );
    const uploadId = randomUUID();
    try {
      const { size, sha512, text } = await this.receive(uploadId, version, name, body, limit, channel);
      await this.db.transaction(async (tx) => {
        // One upload of a release is checked at a time: a channel file and an artifact arriving together see each other.
        await tx.query('SELECT version FROM sync_releases WHERE version = $1 FOR UPDATE', [version]);
        const others = (await tx.query<FileRow>('SELECT * FROM sync_release_files WHERE version = $1 AND name <> $2', [version, name])).rows;
        await this.check(version, name, { size, sha512, text }, others);
        const before = await tx.query<{ upload_id: string }>('SELECT upload_id FROM sync_release_files WHERE version = $1 AND name = $2', [version, name]);
        await tx.query(
          `INSERT INTO sync_release_files (version, name, upload_id, size, sha512, content, uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, now())
           ON CONFLICT (version, name) DO UPDATE SET upload_id = EXCLUDED.upload_id, size = EXCLUDED.size, sha512 = EXCLUDED.sha512,
             content = EXCLUDED.content, uploaded_at = EXCLUDED.uploaded_at`,
          [version, name, uploadId, size, sha512, text],
        );
        const old = before.rows[0]?.upload_id;
        if (old) await tx.query('DELETE FROM sync_release_chunks WHERE upload_id = $1', [old]);
      });
      return { size, sha512 };
    } catch (err) {
      await this.db.query('DELETE FROM sync_release_chunks WHERE upload_id = $1', [uploadId]).catch(() => undefined);
      throw err;
    }
  }

  /** Reads the body into chunks of CHUNK_BYTES, hashing it on the way. */
  private async receive(uploadId: string, version: string, name: string, body: Readable, limit: number, keepText: boolean) {
    const hash = createHash('sha512');
    let size = 0;
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const texts: Buffer[] = [];
    const write = async (chunk: Buffer) => {
      await this.db.query('INSERT INTO sync_release_chunks (upload_id, seq, version, name, data) VALUES ($1, $2, $3, $4, $5)', [uploadId, seq++, version, name, chunk]);
    };
    // Not destroyed when refused: the rest is read and dropped, so the client gets the answer instead of a reset.
    for await (const part of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>) {
      const buf = typeof part === 'string' ? Buffer.from(part) : part;
      size += buf.length;
      if (size > limit) {
        body.resume();
        throw tooLarge(limit);
      }
      hash.update(buf);
      if (keepText) texts.push(buf);
      pending.push(buf);
      pendingBytes += buf.length;
      while (pendingBytes >= CHUNK_BYTES) {
        const all = Buffer.concat(pending, pendingBytes);
        await write(all.subarray(0, CHUNK_BYTES));
        pending = [all.subarray(CHUNK_BYTES)];
        pendingBytes -= CHUNK_BYTES;
      }
    }
    if (pendingBytes > 0 || size === 0) await write(Buffer.concat(pending, pendingBytes));
    return { size, sha512: hash.digest('base64'), text: keepText ? Buffer.concat(texts).toString('utf8') : null };
  }

  private async check(version: string, name: string, file: { size: number; sha512: string; text: string | null }, others: readonly FileRow[]): Promise<void> {
    const artifacts = new Map<string, { sha512: string; size: number }>();
    for (const o of others) if (!isChannelFile(o.name)) artifacts.set(o.name, { sha512: o.sha512, size: Number(o.size) });
    if (file.text !== null) {
      const doc = readChannelFile(file.text);
      if (doc.version !== version) throw badRequest('VERSION_MISMATCH', `${name} is for version ${doc.version}, not ${version}`);
      const bad = mismatches(doc, name, artifacts);
      if (bad.length > 0) throw badRequest('SHA512_MISMATCH', bad.join('; '));
      return;
    }
    if (file.size === 0) throw badRequest('EMPTY_FILE', `${name} is empty`);
    const self = new Map([[name, { sha512: file.sha512, size: file.size }]]);
    for (const o of others) {
      if (!isChannelFile(o.name) || o.content === null) continue;
      const bad = mismatches(readChannelFile(o.content), o.name, self);
      if (bad.length > 0) throw badRequest('SHA512_MISMATCH', bad.join('; '));
    }
  }

  /** The bytes [start, end] (inclusive) of a stored file, chunk by chunk. */
  async *read(file: StoredFile, start: number, end: number): AsyncGenerator<Buffer> {
    for (let seq = Math.floor(start / CHUNK_BYTES); seq * CHUNK_BYTES <= end; seq++) {
      const r = await this.db.query<{ data: Uint8Array }>('SELECT data FROM sync_release_chunks WHERE upload_id = $1 AND seq = $2', [file.uploadId, seq]);
      const data = r.rows[0]?.data;
      // An upload of the same name swapped the file (and dropped these chunks) since it was looked up: ask again.
      if (!data) throw conflict('FILE_REPLACED', `${file.version}/${file.name} was replaced while it was read; ask again`);
      const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      const from = seq * CHUNK_BYTES;
      yield buf.subarray(Math.max(0, start - from), Math.min(buf.length, end - from + 1));
    }
  }
}

/** A release as the admin API shows it: its files, and per channel file the named artifacts not uploaded yet. */
function describe(r: { version: string; notes: string | null; created_at: string | Date }, files: readonly FileRow[]): Release {
  const names = new Set(files.map((f) => f.name));
  const missing: Record<string, string[]> = {};
  for (const f of files) {
    if (!isChannelFile(f.name) || f.content === null) continue;
    try {
      missing[f.name] = [...readChannelFile(f.content).files.keys()].filter((n) => !names.has(n));
    } catch {
      missing[f.name] = ['(unreadable channel file)'];
    }
  }
  const out: ReleaseFile[] = files.map((f) => ({ name: f.name, size: Number(f.size), sha512: f.sha512, channel: isChannelFile(f.name), uploadedAt: iso(f.uploaded_at) }));
  return { version: r.version, notes: r.notes, createdAt: iso(r.created_at), files: out, missing };
}

