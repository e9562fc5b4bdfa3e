/**
 * electron-builder's channel files (latest.yml, latest-mac.yml, latest-linux.yml):
 * read when an admin uploads one (its version, and the files it names with their
 * sha512), and rewritten for a till when the feed serves it (pure).
 *
 * ```yaml
 * version: 1.2.3
 * files:
 *   - url: TillSync-Setup-1.2.3.exe
 *     sha512: <base64>
 *     size: 81234567
 * path: TillSync-Setup-1.2.3.exe
 * sha512: <base64>
 * releaseDate: '2026-12-06T10:00:00.000Z'
 * ```
 */
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { FEED_TARGET_FIELD, FILE_NAME, VERSION, type FeedTarget } from '../../shared/update-protocol.js';
import { badRequest } from '../errors.js';

/**
 * Every string value quoted, as electron-builder writes releaseDate: electron-updater's
 * YAML 1.1 reader would otherwise take an unquoted date for a Date, not the string it expects.
 */
const QUOTED = { defaultStringType: 'QUOTE_SINGLE', defaultKeyType: 'PLAIN' } as const;

/** A channel file is a few hundred bytes; anything over this is not one. */
export const CHANNEL_FILE_MAX_BYTES = 256 * 1024;

const BASE64_SHA512 = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'a sha512 in base64 (88 characters)');

const NamedFile = z.looseObject({
  url: FILE_NAME,
  sha512: BASE64_SHA512,
  size: z.number().int().min(0).optional(),
});

const ChannelDoc = z.looseObject({
  version: VERSION,
  files: z.array(NamedFile).max(100).optional(),
  path: FILE_NAME.optional(),
  sha512: BASE64_SHA512.optional(),
});

export interface NamedArtifact {
  readonly sha512: string;
  readonly size: number | undefined;
}

export interface ChannelFile {
  readonly version: string;
  /** The artifacts it names (`files[].url`, and the older `path`), by name. */
  readonly files: ReadonlyMap<string, NamedArtifact>;
}

function load(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 10 });
  } catch (err) {
    throw badRequest('INVALID_CHANNEL_FILE', `the channel file is not YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRequest('INVALID_CHANNEL_FILE', 'the channel file is not a YAML mapping');
  return doc as Record<string, unknown>;
}

/** Reads a channel file as electron-builder writes it; 400 INVALID_CHANNEL_FILE with the first problem otherwise. */
export function readChannelFile(text: string): ChannelFile {
  const r = ChannelDoc.safeParse(load(text));
  if (!r.success) {
    const issue = r.error.issues[0];
    throw badRequest('INVALID_CHANNEL_FILE', `the channel file is not as electron-builder writes it: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`);
  }
  const files = new Map<string, NamedArtifact>();
  for (const f of r.data.files ?? []) files.set(f.url, { sha512: f.sha512, size: f.size });
  if (r.data.path !== undefined && !files.has(r.data.path)) {
    if (r.data.sha512 === undefined) throw badRequest('INVALID_CHANNEL_FILE', 'the channel file names a path without its sha512');
    files.set(r.data.path, { sha512: r.data.sha512, size: undefined });
  }
  if (files.size === 0) throw badRequest('INVALID_CHANNEL_FILE', 'the channel file names no file to download');
  return { version: r.data.version, files };
}

/**
 * The channel file as a till gets it: its files under `<version>/` (so an artifact is
 * fetched from the release it belongs to, and electron-updater finds the old version's
 * blockmap by replacing the version in the URL), without electron-updater's own
 * staging (`stagingPercentage`: central stages the rollout), and with central's word
 * on the offer (FEED_TARGET_FIELD).
 */
export function servedChannelFile(text: string, target: FeedTarget): string {
  const doc = load(text);
  const version = String(doc.version);
  const under = (name: unknown) => (typeof name === 'string' ? `${version}/${name}` : name);
  if (Array.isArray(doc.files)) {
    doc.files = doc.files.map((f: unknown) => (typeof f === 'object' && f !== null ? { ...f, url: under((f as { url?: unknown }).url) } : f));
  }
  if (doc.path !== undefined) doc.path = under(doc.path);
  delete doc.stagingPercentage;
  doc[FEED_TARGET_FIELD] = target;
  return stringify(doc, QUOTED);
}

/** The answer when central offers a till nothing: its own version, which electron-updater takes as "no update". */
export function currentVersionFile(version: string): string {
  return stringify({ version, files: [], [FEED_TARGET_FIELD]: { allowDowngrade: false, reason: null } }, QUOTED);
}
