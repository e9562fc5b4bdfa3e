import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalJsonByWalk, contentHashOf } from '../../src/server/services/change-ids.js';

const seed = Number(process.env.TILLSYNC_FC_SEED ?? Date.now() % 2 ** 31);

describe('canonical JSON of a change (its content hash)', () => {
  it('is the recursive sorted-keys text for any JSON value, nested and with undefined fields', () => {
    console.log(`change-ids property seed ${seed} (TILLSYNC_FC_SEED to replay)`);
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(null, undefined, 0, -0, 1.5, -1e21, true, false, '', 'a"b\\c', '\u2028', 'é'),
        fc.string(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('a', 'B', '10', '2', 'toString', 'constructor', '__proto__')), tie('v'), { maxKeys: 5 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(canonicalJsonByWalk(v));
      }),
      { seed, numRuns: 2000 },
    );
  });

  it('orders keys at every depth, so the same change in another key order hashes the same', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null }, u: undefined })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
    // A seed in CI (1329241353): a "__proto__" key elsewhere made the key list read Object.prototype into {}.
    const proto = JSON.parse('{"a":[{}],"__proto__":""}') as unknown;
    expect(canonicalJson(proto)).toBe('{"__proto__":"","a":[{}]}');
    const one = { entityType: 'customers', entityId: 'c1', operation: 'CREATE' as const, syncVersion: 0, data: { id: 'c1', name: 'A', email: null } };
    const other = { syncVersion: 0, operation: 'CREATE' as const, data: { email: null, name: 'A', id: 'c1' }, entityId: 'c1', entityType: 'customers' };
    expect(contentHashOf(other)).toBe(contentHashOf(one));
    expect(contentHashOf({ ...one, data: { ...one.data, name: 'B' } })).not.toBe(contentHashOf(one));
    // The digest's definition, which hashes stored at central before any change of its code must keep matching.
    const defined = createHash('sha256').update(canonicalJsonByWalk(['customers', 'c1', 'CREATE', 0, one.data, null])).digest('base64url').slice(0, 22);
    expect(contentHashOf(one)).toBe(defined);
  });
});
