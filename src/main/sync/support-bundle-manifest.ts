/** The support bundle's manifest.json: what the archive holds, what could not be collected, how it was redacted. */
import { z } from 'zod';

/** A file's path inside the bundle's folder: plain names, `/`-separated, nothing that climbs out. */
const BundlePath = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, 'must be a relative path of plain names');

export const BUNDLE_SOURCES = ['cli', 'companion', 'companion-web'] as const;

export const SupportBundleManifest = z.strictObject({
  format: z.literal('tillsync-support-bundle'),
  formatVersion: z.literal(1),
  createdAt: z.iso.datetime(),
  /** Who made it: `tillsync support-bundle`, the desktop companion, or the companion in web mode. */
  source: z.enum(BUNDLE_SOURCES),
  terminalId: z.string().nullable(),
  /** Every file of the bundle besides this manifest, in the archive's order. */
  files: z.array(
    z.strictObject({
      name: BundlePath,
      bytes: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      description: z.string(),
    }),
  ),
  /** What could not be collected, and why (central unreachable for the parity report, no engine for the status ...). */
  problems: z.array(z.strictObject({ section: z.string(), message: z.string() })),
  /** Where this terminal's logs are, and which of them are in the bundle. */
  logs: z.strictObject({ included: z.array(BundlePath), note: z.string() }),
  redaction: z.strictObject({ marker: z.string(), rules: z.array(z.string()) }),
});
export type SupportBundleManifest = z.infer<typeof SupportBundleManifest>;
