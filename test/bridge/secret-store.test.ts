import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SecretStore, SecretStoreError, type SafeStorageLike } from '../../src/main/secret-store.js';

const dir = mkdtempSync(join(tmpdir(), 'tillsync-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fs = { existsSync, readFileSync, writeFileSync, rmSync };

/** A stand-in for safeStorage: reversible, and visibly not the plain text. */
const safe = (backend = 'gnome_libsecret', available = true): SafeStorageLike => ({
  isEncryptionAvailable: () => available,
  encryptString: (s) => Buffer.from(Buffer.from(s, 'utf8').map((b) => b ^ 0x5a)),
  decryptString: (b) => {
    if (b[0] === 0) throw new Error('bad ciphertext');
    return Buffer.from(b.map((x) => x ^ 0x5a)).toString('utf8');
  },
  getSelectedStorageBackend: () => backend,
});

it('the key is stored encrypted, owner-only, and read back', () => {
  const path = join(dir, 'key.bin');
  const store = new SecretStore(safe(), fs, path, 'linux');
  store.save('tsk_secret-key');
  expect(readFileSync(path).toString('utf8')).not.toContain('tsk_secret-key');
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(store.load()).toBe('tsk_secret-key');
  store.clear();
  expect(store.load()).toBeUndefined();
});

it('with only a plain-text backend (Linux without a keyring) storing is refused with a clear message, and nothing is written', () => {
  const path = join(dir, 'plain.bin');
  const store = new SecretStore(safe('basic_text'), fs, path, 'linux');
  expect(store.problem()?.code).toBe('PLAIN_TEXT_BACKEND');
  expect(() => store.save('tsk_x')).toThrow(SecretStoreError);
  expect(() => store.save('tsk_x')).toThrow(/plain text/);
  expect(existsSync(path)).toBe(false);
  // The same backend name means nothing on other platforms.
  expect(new SecretStore(safe('basic_text'), fs, path, 'win32').problem()).toBeNull();
});

it('no encryption at all is refused; an unreadable stored key is a clear error', () => {
  expect(() => new SecretStore(safe('kwallet5', false), fs, join(dir, 'none.bin'), 'darwin').save('k')).toThrow(/no encryption/);
  const path = join(dir, 'broken.bin');
  writeFileSync(path, Buffer.from([0, 1, 2]));
  expect(() => new SecretStore(safe(), fs, path, 'linux').load()).toThrow(/cannot be decrypted/);
});
