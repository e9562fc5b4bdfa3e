import { createContext, useContext } from 'react';
import { useStore, type StoreApi } from 'zustand';
import type { AppState } from './store.js';

export const AppStoreContext = createContext<StoreApi<AppState> | null>(null);

/** Reads a slice of the UI state (re-renders when it changes). */
export function useApp<T>(selector: (s: AppState) => T): T {
  const store = useContext(AppStoreContext);
  if (!store) throw new Error('useApp outside AppStoreContext');
  return useStore(store, selector);
}
