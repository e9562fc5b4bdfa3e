/**
 * Draws the tray icons (one per state, 16 and 32 px, for light and dark menu bars)
 * and the app icon into resources/, as PNGs. Shapes are rasterized with 4x4
 * supersampling so they stay legible at 16 px. Run: npx tsx scripts/generate-icons.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { TRAY_STATES, type TrayState } from '../src/shared/tray-state.js';

type Rgb = [number, number, number];
type Shape = (x: number, y: number) => boolean; // coordinates in 0..1

const COLORS: Record<TrayState, { light: Rgb; dark: Rgb }> = {
  synced: { light: [22, 128, 61], dark: [74, 222, 128] },
  syncing: { light: [29, 78, 216], dark: [96, 165, 250] },
  pending: { light: [180, 83, 9], dark: [251, 191, 36] },
  offline: { light: [82, 82, 91], dark: [161, 161, 170] },
  attention: { light: [185, 28, 28], dark: [248, 113, 113] },
};

const seg = (ax: number, ay: number, bx: number, by: number, w: number): Shape => (x, y) => {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy)) <= w / 2;
};
const disc = (cx: number, cy: number, r: number): Shape => (x, y) => Math.hypot(x - cx, y - cy) <= r;
const ring = (cx: number, cy: number, r: number, w: number, gapFrom = 0, gapTo = 0): Shape => (x, y) => {
  const d = Math.hypot(x - cx, y - cy);
  if (Math.abs(d - r) > w / 2) return false;
  const a = (Math.atan2(y - cy, x - cx) + 2 * Math.PI) % (2 * Math.PI);
  return !(a >= gapFrom && a <= gapTo);
};
const any = (...shapes: Shape[]): Shape => (x, y) => shapes.some((s) => s(x, y));

const GLYPH: Record<TrayState, Shape> = {
  synced: any(seg(0.28, 0.52, 0.44, 0.68, 0.13), seg(0.44, 0.68, 0.73, 0.34, 0.13)),
  syncing: any(ring(0.5, 0.5, 0.24, 0.12, 5.2, 6.0), seg(0.6, 0.2, 0.74, 0.32, 0.11), seg(0.74, 0.32, 0.58, 0.38, 0.11)),
  pending: any(disc(0.3, 0.5, 0.08), disc(0.5, 0.5, 0.08), disc(0.7, 0.5, 0.08)),
  offline: any(ring(0.5, 0.5, 0.22, 0.11), seg(0.28, 0.72, 0.72, 0.28, 0.12)),
  attention: any(seg(0.5, 0.25, 0.5, 0.57, 0.15), disc(0.5, 0.73, 0.08)),
};

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An RGBA PNG of `size` px: a coloured disc with the state's glyph cut out in white. */
export function drawIcon(size: number, color: Rgb, glyph: Shape): Buffer {
  const ss = 4;
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let py = 0; py < size; py++) {
    raw[py * (size * 4 + 1)] = 0; // filter: none
    for (let px = 0; px < size; px++) {
      let inDisc = 0;
      let inGlyph = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size;
          const y = (py + (sy + 0.5) / ss) / size;
          if (Math.hypot(x - 0.5, y - 0.5) <= 0.47) {
            inDisc++;
            if (glyph(x, y)) inGlyph++;
          }
        }
      }
      const n = ss * ss;
      const white = inGlyph / Math.max(1, inDisc);
      const o = py * (size * 4 + 1) + 1 + px * 4;
      raw[o] = Math.round(color[0] * (1 - white) + 255 * white);
      raw[o + 1] = Math.round(color[1] * (1 - white) + 255 * white);
      raw[o + 2] = Math.round(color[2] * (1 - white) + 255 * white);
      raw[o + 3] = Math.round((255 * inDisc) / n);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export function iconFiles(): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const state of TRAY_STATES) {
    for (const theme of ['light', 'dark'] as const) {
      for (const size of [16, 32]) files.set(`tray/${state}-${theme}-${size}.png`, drawIcon(size, COLORS[state][theme], GLYPH[state]));
    }
  }
  files.set('icon.png', drawIcon(512, COLORS.synced.light, GLYPH.synced));
  return files;
}

if (process.argv[1]?.endsWith('generate-icons.ts')) {
  const dir = new URL('../resources/', import.meta.url);
  mkdirSync(new URL('tray/', dir), { recursive: true });
  for (const [name, png] of iconFiles()) writeFileSync(new URL(name, dir), png);
  console.log(`wrote ${iconFiles().size} icons under resources/`);
}
