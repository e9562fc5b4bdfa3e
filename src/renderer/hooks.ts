import { createContext, useContext, useEffect, useReducer } from 'react';
import { useStore, type StoreApi } from 'zustand';
import type { AppState } from './store.js';

export const AppStoreContext = createContext<StoreApi<AppState> | null>(null);

/** Reads a slice of the UI state (re-renders when it changes). */
export function useApp<T>(selector: (s: AppState) => T): T {
  const store = useContext(AppStoreContext);
  if (!store) throw new Error('useApp outside AppStoreContext');
  return useStore(store, selector);
}

/**
 * The current time (ms), read at every render; while `ticking`, the component renders
 * again every `everyMs`, so an age it shows keeps moving without asking the engine.
 */
export function useNow(ticking: boolean, everyMs = 1_000): number {
  const [, tick] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    if (!ticking) return;
    const id = setInterval(tick, everyMs);
    return () => clearInterval(id);
  }, [ticking, everyMs]);
  return Date.now();
}
