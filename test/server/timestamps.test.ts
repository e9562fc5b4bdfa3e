/** Timestamps as central reads them: PostgreSQL's text form to the ISO strings the wire carries. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toIso } from '../../src/server/db/database.js';

/** The general conversion, through a Date: what every fast path must agree with. */
function viaDate(v: string): string {
  const d = new Date(v.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

describe('toIso', () => {
  it('gives what a Date gives for any timestamp PostgreSQL or jsonb prints, UTC or not', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom('+00', '+00:00', 'Z', '+02', '-05', '+05:30'),
        fc.constantFrom(' ', 'T'),
        (date, micros, digits, zone, sep) => {
          const day = `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`;
          const time = `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`;
          const fraction = digits === 0 ? '' : `.${pad(micros, 6).slice(0, digits)}`;
          const text = `${day}${sep}${time}${fraction}${zone}`;
          expect(toIso(text)).toBe(viaDate(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('leaves what is not a finite instant as it is', () => {
    expect(toIso('infinity')).toBe('infinity');
    expect(toIso('-infinity')).toBe('-infinity');
  });
});
