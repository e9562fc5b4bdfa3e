/**
 * The terminal key at rest, encrypted with Electron's safeStorage (DPAPI, Keychain,
 * libsecret/kwallet). Where only a plain-text backend exists (Linux without a
 * keyring), storing is refused with a clear message instead of writing the key in
 * clear silently. safeStorage and the file system are injected.
 */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: 'basic_text' means no real keyring. */
  getSelectedStorageBackend?(): string;
}

export interface SecretFs {
  existsSync(path: string): boolean;
  readFileSync(path: string): Buffer;
  writeFileSync(path: string, data: Buffer, opts: { mode: number }): void;
  rmSync(path: string, opts: { force: true }): void;
}

export class SecretStoreError extends Error {
  override name = 'SecretStoreError';
  constructor(
    readonly code: 'NO_ENCRYPTION' | 'PLAIN_TEXT_BACKEND' | 'UNREADABLE',
    message: string,
  ) {
    super(message);
  }
}

export class SecretStore {
  constructor(
    private readonly safe: SafeStorageLike,
    private readonly fs: SecretFs,
    private readonly path: string,
    private readonly platform: NodeJS.Platform,
  ) {}

  /** Why the key cannot be stored safely here, or null when it can. */
  problem(): SecretStoreError | null {
    if (!this.safe.isEncryptionAvailable()) {
      return new SecretStoreError('NO_ENCRYPTION', 'this system offers no encryption for secrets; the terminal key cannot be stored safely');
    }
    if (this.platform === 'linux' && this.safe.getSelectedStorageBackend?.() === 'basic_text') {
      return new SecretStoreError(
        'PLAIN_TEXT_BACKEND',
        'no keyring (GNOME Keyring or KWallet) is available, so the key would be stored in plain text; install or unlock a keyring, or provide the key through CENTRAL_API_KEY',
      );
    }
    return null;
  }

  save(key: string): void {
    const p = this.problem();
    if (p) throw p;
    this.fs.writeFileSync(this.path, this.safe.encryptString(key), { mode: 0o600 });
  }

  load(): string | undefined {
    if (!this.fs.existsSync(this.path)) return undefined;
    try {
      return this.safe.decryptString(this.fs.readFileSync(this.path));
    } catch (err) {
      throw new SecretStoreError('UNREADABLE', `the stored terminal key cannot be decrypted (${err instanceof Error ? err.message : err}); enter it again in Settings`);
    }
  }

  clear(): void {
    this.fs.rmSync(this.path, { force: true });
  }
}
