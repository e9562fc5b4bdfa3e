/**
 * Change ids are idempotency keys. A change is known by its own id, or by one derived
 * from its content; what it says is kept as a content hash beside its answer, so a
 * replay (same id, same content) gets the same answer while an id reused for other
 * content is refused (as payment APIs treat a reused idempotency key).
 */
import { hash } from 'node:crypto';
import { fingerprint } from '../../shared/catalog/index.js';
import type { PushChange } from '../../shared/protocol.js';

/** The id a change is known by: its own, or one derived from its content. */
export function changeIdOf(terminalId: string, c: PushChange): string {
  if (c.changeId) return c.changeId;
  const content = JSON.stringify([terminalId, c.entityType, c.entityId, c.operation, c.syncVersion, c.data ?? null, c.hlc ?? null]);
  return `h:${fingerprint(content)}${fingerprint(content.split('').reverse().join(''))}`;
}

/**
 * A digest of what a change asks central to do: its row, operation, data, the version
 * it was built on and its clock. Keys are sorted, so a client that sends the same
 * object in another key order replays, not reuses. `baseData`, `priority`,
 * `createdInMode` and `transactionGroup` are hints about the change, not the change.
 */
export function contentHashOf(c: PushChange): string {
  const text = canonicalJson([c.entityType, c.entityId, c.operation, c.syncVersion, c.data ?? null, c.hlc ?? null]);
  // One-shot (node >= 20.12): a Hash object per change cost 0.6 us more for the same digest.
  return hash('sha256', text, 'base64url').slice(0, 22);
}

/**
 * JSON with every object's keys in sorted order (the wire's values are plain JSON, as
 * parsed from a body): the text `canonicalJsonByWalk` builds, made by the native
 * serializer from a copy of the value whose objects hold their keys in sorted order.
 * It is on the push's path for every change: the walk cost 4.6-5.7 us a customer's
 * change, serializing with every key as a key list (the serializer's slow path) 4.0 us,
 * this copy 2.0-2.8 us. An object's key order is its insertion order except for keys
 * that are array indexes ("2", "10"), which come first in numeric order, and an own
 * `__proto__` cannot be set by assignment: a value with such a key takes the walk.
 */
export function canonicalJson(v: unknown): string {
  const copy = sortedCopy(v);
  if (copy === UNSORTABLE) return canonicalJsonByWalk(v);
  return JSON.stringify(copy) ?? 'null';
}

const UNSORTABLE = Symbol('unsortable');
const INDEX_KEY = /^(?:0|[1-9][0-9]*)$/;

/** The last object's keys and their sorted order (null: unsortable), as a change's rows share one key list. */
let lastKeys: readonly string[] = [];
let lastSorted: readonly string[] | null = [];

function sortedKeysOf(keys: readonly string[]): readonly string[] | null {
  let same = keys.length === lastKeys.length;
  for (let i = 0; same && i < keys.length; i++) same = keys[i] === lastKeys[i];
  if (same) return lastSorted;
  const sortable = keys.every((k) => k !== '__proto__' && !INDEX_KEY.test(k));
  // Both set together, once the sorted list is made: a failure part way leaves the memo as it was.
  const sorted = sortable ? [...keys].sort() : null;
  lastKeys = keys;
  lastSorted = sorted;
  return sorted;
}

/** The value with every object's keys in sorted order, or UNSORTABLE. */
function sortedCopy(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = sortedCopy(v[i]);
      if (x === UNSORTABLE) return UNSORTABLE;
      out[i] = x;
    }
    return out;
  }
  const o = v as Record<string, unknown>;
  const sorted = sortedKeysOf(Object.keys(o));
  if (sorted === null) return UNSORTABLE;
  const out: Record<string, unknown> = {};
  for (const k of sorted) {
    const x = sortedCopy(o[k]);
    if (x === UNSORTABLE) return UNSORTABLE;
    out[k] = x;
  }
  return out;
}

/** The definition `canonicalJson` keeps to: each object's defined keys sorted, recursively. */
export function canonicalJsonByWalk(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJsonByWalk).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJsonByWalk(o[k])}`).join(',')}}`;
}
