/**
 * The merge editor's logic: fields side by side with what differs, a sensible
 * default per field, typed values read like the field's values, and the merged row.
 */
import { describe, expect, it } from 'vitest';
import { defaultChoice, fieldRows, mergedRow, parseTyped } from '../../src/renderer/merge.js';
import { patchOf } from '../../src/renderer/views/SettingsView.js';

const conflict = {
  base: { id: 'c1', version: 3, name: 'Ann', phone: '111', points: 10, notes: null },
  terminal: { id: 'c1', version: 3, name: 'Ann', phone: '222', points: 15, notes: 'vip' },
  central: { id: 'c1', version: 4, name: 'Anne', phone: '333', points: 10, notes: null },
};

describe('merge editor', () => {
  it('lists every field once, marking the ones this terminal and central disagree on (never id/version)', () => {
    const rows = fieldRows(conflict);
    expect(rows.map((r) => r.field)).toEqual(['id', 'version', 'name', 'phone', 'points', 'notes']);
    expect(rows.filter((r) => r.differs).map((r) => r.field)).toEqual(['name', 'phone', 'points', 'notes']);
    const phone = rows.find((r) => r.field === 'phone');
    expect(phone).toMatchObject({ changedHere: true, changedAtCentral: true });
  });

  it('defaults to the side that changed a field, and to central when both did', () => {
    const by = Object.fromEntries(fieldRows(conflict).map((r) => [r.field, defaultChoice(r).kind]));
    expect(by).toMatchObject({ name: 'central', phone: 'central', points: 'terminal', notes: 'terminal' });
  });

  it('builds the merged row from the choices; a typed value keeps the field type', () => {
    const rows = fieldRows(conflict);
    const m = mergedRow(rows, { phone: { kind: 'terminal' }, name: { kind: 'custom', text: 'Anne Smith' }, points: { kind: 'custom', text: '12' } });
    expect(m.errors).toEqual({});
    expect(m.row).toEqual({ id: 'c1', version: 4, name: 'Anne Smith', phone: '222', points: 12, notes: 'vip' });
  });

  it('reports a typed value that does not fit its field, and leaves it out of the row', () => {
    const m = mergedRow(fieldRows(conflict), { points: { kind: 'custom', text: 'twelve' } });
    expect(m.errors.points).toMatch(/not a number/);
    expect('points' in m.row).toBe(false);
  });

  it('reads typed values: empty is null, booleans and JSON by example', () => {
    expect(parseTyped('  ', 'x')).toEqual({ ok: true, value: null });
    expect(parseTyped('true', false)).toEqual({ ok: true, value: true });
    expect(parseTyped('yes', false).ok).toBe(false);
    expect(parseTyped('{"a":1}', { a: 0 })).toEqual({ ok: true, value: { a: 1 } });
    expect(parseTyped('{a', { a: 0 }).ok).toBe(false);
    expect(parseTyped(' 007 ', 'text')).toEqual({ ok: true, value: ' 007 ' });
  });

  it('handles a row deleted at central (central null)', () => {
    const rows = fieldRows({ base: { id: 'x', qty: 1 }, terminal: { id: 'x', qty: 2 }, central: null });
    expect(rows.find((r) => r.field === 'qty')).toMatchObject({ differs: true, central: undefined });
    expect(mergedRow(rows, { qty: { kind: 'terminal' } }).row).toEqual({ id: 'x', qty: 2 });
  });
});

describe('settings form', () => {
  const saved = { centralUrl: 'http://hq', terminalId: 't1', databasePath: '/pos.db', apiKey: '', syncInterval: '300', cron: '*/5 * * * *', autoStart: true, supervisorPin: '' };
  it('sends only what changed; the key and PIN only when typed; an emptied cron clears it', () => {
    expect(patchOf(saved, saved)).toEqual({});
    expect(patchOf({ ...saved, centralUrl: ' http://hq2 ', apiKey: 'tsk_12345678', cron: '' }, saved)).toEqual({ centralUrl: 'http://hq2', apiKey: 'tsk_12345678', cron: '' });
    expect(patchOf({ ...saved, syncInterval: '60', autoStart: false, supervisorPin: '1234' }, saved)).toEqual({ syncInterval: 60, autoStart: false, supervisorPin: '1234' });
    expect(Number.isNaN(patchOf({ ...saved, syncInterval: '' }, saved).syncInterval)).toBe(true);
  });
});
