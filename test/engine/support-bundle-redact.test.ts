/**
 * Support bundles' redaction, pure: over settings objects, log lines (JSON and plain)
 * and URLs, by name and by value; a known secret never survives whatever text it is in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSecretName, REDACTED, redactLogLine, redactText, redactValue, secretValues } from '../../src/main/sync/support-bundle-redact.js';

const KEY = 'tsk_Planted0Secret0Key0For0The0Bundle0Test00';

describe('redaction (pure)', () => {
  const secrets = secretValues([KEY, 'scrypt:00ff:aa11bb22cc33', undefined, null, '12']);

  it('names that hold secrets are recognised, others are not', () => {
    for (const n of ['apiKey', 'CENTRAL_API_KEY', 'adminToken', 'TILLSYNC_ADMIN_TOKEN', 'supervisorPinHash', 'supervisorPin', 'pin', 'key', 'token', 'password', 'Authorization', 'access_token']) {
      expect(isSecretName(n), n).toBe(true);
    }
    for (const n of ['terminalId', 'centralUrl', 'hasKey', 'hasPin', 'databasePath', 'syncInterval', 'pending', 'shipping', 'tables']) expect(isSecretName(n), n).toBe(false);
  });

  it('a settings object keeps its shape; secret fields and planted values are redacted, unset ones stay unset', () => {
    const settings = {
      centralUrl: `http://127.0.0.1:4000/?key=${KEY}`,
      apiKey: KEY,
      adminToken: 'tsa_aaaaaaaaaaaaaaaaaaaa',
      supervisorPinHash: 'scrypt:00ff:aa11bb22cc33',
      nested: { note: `the key is ${KEY}`, list: [KEY, 1, true] },
      hasKey: true,
      cron: null,
      terminalId: 'till-1',
    };
    const out = redactValue(settings, secrets) as typeof settings;
    expect(out).toEqual({
      centralUrl: `http://127.0.0.1:4000/?key=${REDACTED}`,
      apiKey: REDACTED,
      adminToken: REDACTED,
      supervisorPinHash: REDACTED,
      nested: { note: `the key is ${REDACTED}`, list: [REDACTED, 1, true] },
      hasKey: true,
      cron: null,
      terminalId: 'till-1',
    });
    expect(settings.apiKey).toBe(KEY); // the input is not changed
  });

  it('log lines: JSON lines stay JSON, plain lines lose name=value secrets, URLs lose their secret parameters and passwords', () => {
    const json = redactLogLine(JSON.stringify({ level: 30, msg: 'start', url: `http://c/?token=abcdefghijkl&terminalId=t1`, headers: { authorization: `Bearer ${KEY}` } }), secrets);
    expect(JSON.parse(json)).toEqual({ level: 30, msg: 'start', url: `http://c/?token=${REDACTED}&terminalId=t1`, headers: { authorization: REDACTED } });
    expect(redactLogLine('connect apiKey=hunter2hunter2 to central password: "letmein99"', secrets)).toBe(`connect apiKey=${REDACTED} to central password: "${REDACTED}"`);
    expect(redactText('GET http://admin:s3cr3tpass@hq.example/api?x=1', secrets)).toBe(`GET http://admin:${REDACTED}@hq.example/api?x=1`);
    expect(redactText(`curl -H "Authorization: Bearer ${'x'.repeat(20)}"`, secrets)).toBe(`curl -H "Authorization: Bearer ${REDACTED}"`);
    expect(redactText(`a key of another till: tsk_${'Z'.repeat(43)} and the PIN hash scrypt:00ff:aa11bb22cc33`, secrets)).toBe(`a key of another till: ${REDACTED} and the PIN hash ${REDACTED}`);
    expect(redactText(`url-encoded: ?next=${encodeURIComponent(`/x?k=${KEY}`)}`, secrets)).not.toContain(KEY.slice(4));
  });

  it('a known secret never survives, whatever text it is planted in', () => {
    const secret = fc.stringMatching(/^[A-Za-z0-9_+/=-]{8,40}$/);
    const around = fc.string({ maxLength: 30 });
    fc.assert(
      fc.property(secret, around, around, fc.constantFrom('plain', 'url', 'json', 'kv'), (s, before, after, how) => {
        const planted =
          how === 'url' ? `${before}http://h/p?x=${encodeURIComponent(s)}&y=1${after}` : how === 'json' ? JSON.stringify({ m: `${before}${s}${after}` }) : how === 'kv' ? `${before} key=${s} ${after}` : `${before}${s}${after}`;
        const known = secretValues([s]);
        expect(redactLogLine(planted, known)).not.toContain(s);
        expect(JSON.stringify(redactValue({ deep: [{ v: planted }] }, known))).not.toContain(s);
      }),
      { numRuns: 300 },
    );
  });
});
