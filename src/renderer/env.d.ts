import type { TillSyncBridge } from '../shared/ipc.js';

declare global {
  interface Window {
    /** Exposed by the Electron preload (src/preload/index.ts); absent in web mode. */
    readonly tillsync?: TillSyncBridge;
  }
}

export {};
