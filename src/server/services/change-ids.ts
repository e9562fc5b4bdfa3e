/**
 * Change ids are idempotency keys. A change is known by its own id, or by one derived
 * from its content; what it says is kept as a content hash beside its answer, so a
 * replay (same id, same content) gets the same answer while an id reused for other
 * content is refused (as payment APIs treat a reused idempotency key).
 */
import { createHash } from 'node:crypto';
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
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/**
 * JSON with every object's keys in sorted order (the wire's values are plain JSON, as
 * parsed from a body): the text `canonicalJsonByWalk` builds, made by the native
 * serializer with every key the value holds, sorted, as its key list (a key list orders
 * each object's keys as the list does, at every depth, and leaves out undefined values).
 * It is on the push's path for every change, where the walk cost a twentieth of the push.
 */
export function canonicalJson(v: unknown): string {
  const keys = new Set<string>();
  collectKeys(v, keys);
  // A key list is read through the prototype: an object without its own `__proto__` would
  // serialize Object.prototype under that name. Such a value takes the walk (the native
  // path's other inherited names are functions, which the serializer leaves out).
  if (keys.has('__proto__')) return canonicalJsonByWalk(v);
  return JSON.stringify(v, [...keys].sort()) ?? 'null';
}

function collectKeys(v: unknown, into: Set<string>): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) collectKeys(x, into);
    return;
  }
  for (const k of Object.keys(v)) {
    into.add(k);
    collectKeys((v as Record<string, unknown>)[k], into);
  }
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
