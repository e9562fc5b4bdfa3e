/**
 * Hybrid logical clock: wall-clock milliseconds plus a counter plus the node id,
 * encoded so that plain string comparison orders clocks. Clocks only break
 * last-writer-wins ties; conflicts themselves are detected by row versions.
 */
import { z } from 'zod';

export interface Hlc {
  readonly physical: number;
  readonly counter: number;
  readonly node: string;
}

const PHYSICAL_DIGITS = 15;
const COUNTER_DIGITS = 5;
const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1;
export const HLC_PATTERN = /^(\d{15}):(\d{5}):([A-Za-z0-9_.:-]{1,64})$/;

export const HlcString = z.string().regex(HLC_PATTERN, 'must be a hybrid logical clock "<15-digit ms>:<5-digit counter>:<node>"');

export class ClockDriftError extends Error {
  constructor(
    readonly remotePhysical: number,
    readonly now: number,
    readonly maxDriftMs: number,
  ) {
    super(
      `clock ${new Date(remotePhysical).toISOString()} is ${remotePhysical - now} ms ahead of ${new Date(now).toISOString()} (limit ${maxDriftMs} ms)`,
    );
    this.name = 'ClockDriftError';
  }
}

export function formatHlc(h: Hlc): string {
  return `${String(h.physical).padStart(PHYSICAL_DIGITS, '0')}:${String(h.counter).padStart(COUNTER_DIGITS, '0')}:${h.node}`;
}

export function parseHlc(text: string): Hlc | null {
  const m = HLC_PATTERN.exec(text);
  if (!m) return null;
  return { physical: Number(m[1]), counter: Number(m[2]), node: m[3] as string };
}

/** Total order: physical, then counter, then node id. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.physical !== b.physical) return a.physical < b.physical ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

function advance(physical: number, counter: number, node: string): Hlc {
  // The counter is bounded by its encoding; past it, borrow a millisecond.
  return counter > MAX_COUNTER ? { physical: physical + 1, counter: 0, node } : { physical, counter, node };
}

/** The clock for a local event (or a send), strictly after `last`. */
export function tickHlc(last: Hlc | null, now: number, node: string): Hlc {
  if (!last || now > last.physical) return { physical: now, counter: 0, node };
  return advance(last.physical, last.counter + 1, node);
}

/**
 * Merges a remote clock into ours. A remote clock further ahead of our wall clock
 * than `maxDriftMs` is refused, so one bad clock cannot drag the fleet into the future.
 */
export function receiveHlc(last: Hlc | null, remote: Hlc, now: number, node: string, maxDriftMs: number): Hlc {
  if (remote.physical - now > maxDriftMs) throw new ClockDriftError(remote.physical, now, maxDriftMs);
  const lastPhysical = last?.physical ?? 0;
  const physical = Math.max(now, lastPhysical, remote.physical);
  let counter = 0;
  if (physical === lastPhysical && physical === remote.physical) counter = Math.max(last?.counter ?? 0, remote.counter) + 1;
  else if (physical === lastPhysical) counter = (last?.counter ?? 0) + 1;
  else if (physical === remote.physical) counter = remote.counter + 1;
  return advance(physical, counter, node);
}
