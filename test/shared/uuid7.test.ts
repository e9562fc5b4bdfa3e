import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { uuid7 } from '../../src/shared/uuid7.js';

describe('uuid7', () => {
  it('is a version 7, RFC 9562 variant UUID that carries its millisecond', () => {
    const t = Date.UTC(2026, 10, 22, 7, 30, 0, 123);
    const id = uuid7(t);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(t);
    expect(z.uuid().safeParse(id).success).toBe(true);
  });

  it('ids of later milliseconds sort after earlier ones, and ids do not repeat', () => {
    const ids = Array.from({ length: 5000 }, (_, i) => uuid7(1_800_000_000_000 + Math.floor(i / 10)));
    for (let i = 10; i < ids.length; i += 10) expect((ids[i - 1] as string) < (ids[i] as string)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
