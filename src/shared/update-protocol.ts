/**
 * Companion updates from HQ, on the wire: the admin's releases and rollout
 * (/api/admin/updates/...) and what a till's feed adds to electron-builder's
 * latest.yml. Versions are semantic versions, compared here without a library (pure).
 */
import { z } from 'zod';

/** MAJOR.MINOR.PATCH with an optional pre-release and build (semver 2.0.0), at most 64 characters. */
const SEMVER_RE = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export const VERSION = z.string().max(64).regex(SEMVER_RE, 'a semantic version such as 1.4.2 or 1.5.0-beta.1');

export function isVersion(v: string): boolean {
  return v.length <= 64 && SEMVER_RE.test(v);
}

/** Compares two semantic versions by precedence (build metadata ignored): negative, 0 or positive. Throws on a non-version. */
export function compareVersions(a: string, b: string): number {
  const pa = SEMVER_RE.exec(a);
  const pb = SEMVER_RE.exec(b);
  if (!pa || !pb) throw new Error(`not a semantic version: ${pa ? b : a}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  const ra = pa[4];
  const rb = pb[4];
  if (ra === undefined || rb === undefined) return ra === rb ? 0 : ra === undefined ? 1 : -1; // a release follows its pre-releases
  const xa = ra.split('.');
  const xb = rb.split('.');
  for (let i = 0; i < Math.max(xa.length, xb.length); i++) {
    const ia = xa[i];
    const ib = xb[i];
    if (ia === undefined) return -1;
    if (ib === undefined) return 1;
    const na = /^\d+$/.test(ia);
    const nb = /^\d+$/.test(ib);
    if (na && nb) {
      const d = Number(ia) - Number(ib);
      if (d !== 0) return d;
    } else if (na !== nb) {
      return na ? -1 : 1; // numeric identifiers sort before alphanumeric ones
    } else if (ia !== ib) {
      return ia < ib ? -1 : 1;
    }
  }
  return 0;
}

/**
 * A file of a release: a channel file (`latest.yml`, `latest-mac.yml`,
 * `latest-linux.yml`, `latest-linux-arm64.yml`, `beta.yml` ...) or an artifact it
 * names (installer, zip, AppImage, .blockmap). Letters, digits, `.`, `_`, `-`, `+`
 * and spaces; no leading dot or space, no path.
 */
export const FILE_NAME = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_+-][A-Za-z0-9._+ -]*$/, 'a file name: letters, digits, . _ - + and spaces, not starting with a dot or space')
  .refine((n) => !n.includes('..') && !n.endsWith(' ') && !n.endsWith('.'), 'a file name may not contain .. nor end with a dot or space');

/** A channel file's name (electron-updater asks for `<channel><-platform>.yml`). */
export const CHANNEL_FILE_RE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.yml$/;
export function isChannelFile(name: string): boolean {
  return CHANNEL_FILE_RE.test(name);
}

export const CreateReleaseRequest = z.strictObject({
  version: VERSION,
  notes: z.string().max(10_000).optional(),
});
export type CreateReleaseRequest = z.infer<typeof CreateReleaseRequest>;

export const ReleaseFile = z.object({
  name: z.string(),
  size: z.number().int(),
  /** base64, as latest.yml writes it. */
  sha512: z.string(),
  /** A channel file (latest*.yml) rather than an artifact. */
  channel: z.boolean(),
  uploadedAt: z.string(),
});
export type ReleaseFile = z.infer<typeof ReleaseFile>;

export const Release = z.object({
  version: z.string(),
  notes: z.string().nullable(),
  createdAt: z.string(),
  files: z.array(ReleaseFile),
  /** Per channel file, the artifacts it names that are not uploaded yet (the channel is served only when none is missing). */
  missing: z.record(z.string(), z.array(z.string())),
});
export type Release = z.infer<typeof Release>;

export const ReleaseListResponse = z.object({ releases: z.array(Release) });

export const PERCENTAGE = z.number().int().min(0).max(100);

/**
 * The fleet's rollout (one, fleet-wide). `version` goes to `percentage` % of the
 * tills (a stable hash of the terminal id picks them), the others stay on `previous`;
 * `stores` pins a store's tills to a version whatever the rest does. `paused`: no till
 * moves to a version it would have to go back for (each keeps what it runs, at most
 * `previous`); `rolledBack`: the rollout was undone, `version` is the one before and
 * tills on a later one go back to it.
 */
export const Rollout = z.object({
  version: z.string().nullable(),
  previous: z.string().nullable(),
  percentage: PERCENTAGE,
  paused: z.boolean(),
  rolledBack: z.boolean(),
  /** When rolledBack: the version that was undone. */
  rolledBackFrom: z.string().nullable(),
  stores: z.record(z.string(), z.string()),
  updatedAt: z.string().nullable(),
});
export type Rollout = z.infer<typeof Rollout>;

const STORE_ID = z.string().min(1).max(200);

/**
 * A change to the rollout. A new `version` starts a rollout of it: the version the
 * fleet was on (the old `version`) becomes `previous` unless given, `percentage`
 * defaults to 0, paused and rolledBack are cleared. `stores` sets (a version) or clears
 * (null) store pins. Every version named must be a release whose files are all uploaded.
 */
export const RolloutPatch = z.strictObject({
  version: VERSION.optional(),
  previous: VERSION.nullable().optional(),
  percentage: PERCENTAGE.optional(),
  paused: z.boolean().optional(),
  stores: z.record(STORE_ID, VERSION.nullable()).optional(),
});
export type RolloutPatch = z.infer<typeof RolloutPatch>;

export const UploadResponse = z.object({ version: z.string(), name: z.string(), size: z.number().int(), sha512: z.string() });

/** What central says about the version it offers (a field it adds to the served latest.yml). */
export const TargetReason = z.enum(['STORE_PIN', 'ROLLOUT', 'NOT_YET', 'PAUSED', 'ROLLED_BACK']);
export type TargetReason = z.infer<typeof TargetReason>;

export const FeedTarget = z.object({
  /** Whether the till may install this version over a later one. */
  allowDowngrade: z.boolean(),
  reason: TargetReason.nullable(),
});
export type FeedTarget = z.infer<typeof FeedTarget>;

/** The field of a served latest.yml that carries FeedTarget. */
export const FEED_TARGET_FIELD = 'tillsyncTarget';

/** The request header a till's updater sends its running version in (for the "no update" answer). */
export const APP_VERSION_HEADER = 'x-tillsync-app-version';

/** What the console shows beside a till's version: the version the rollout has for it. */
export const TerminalUpdateResponse = z.object({
  terminalId: z.string(),
  storeId: z.string(),
  /** The version its last heartbeat reported. */
  appVersion: z.string().nullable(),
  /** The version HQ's feed offers it now (null: none). */
  target: z.object({ version: z.string(), allowDowngrade: z.boolean(), reason: TargetReason }).nullable(),
});
export type TerminalUpdateResponse = z.infer<typeof TerminalUpdateResponse>;
