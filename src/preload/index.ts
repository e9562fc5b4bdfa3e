/**
 * Preload bridge: one narrow typed object, `window.tillsync`, built from the IPC
 * contract. The renderer never sees ipcRenderer or a channel string.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { createBridge, eventChannel, type TillSyncBridge } from '../shared/ipc.js';

const bridge: TillSyncBridge = createBridge({
  invoke: (channel, args) => ipcRenderer.invoke(channel, ...args),
  on: (event, listener) => {
    const handler = (_e: IpcRendererEvent, payload: unknown) => listener(payload);
    ipcRenderer.on(eventChannel(event), handler);
    return () => {
      ipcRenderer.removeListener(eventChannel(event), handler);
    };
  },
});

contextBridge.exposeInMainWorld('tillsync', bridge);
