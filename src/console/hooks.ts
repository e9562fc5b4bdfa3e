/** What every view of the console shares: the API, the live link, and reading data that follows it. */
import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { FleetChanged } from '../shared/protocol.js';
import { ApiError, describeError, type ConsoleApi } from './api.js';
import type { LiveLink } from './live.js';

export interface ConsoleContext {
  readonly api: ConsoleApi;
  readonly live: LiveLink;
  /** Forgets the token; `why` is shown on the sign-in form. */
  readonly signOut: (why?: string) => void;
}

export const Ctx = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('useConsole outside the signed-in console');
  return c;
}

export interface Loaded<T> {
  readonly data: T | null;
  readonly error: string | null;
  readonly loading: boolean;
  readonly reload: () => void;
}

/**
 * Reads `load()` now, whenever `key` changes, and whenever central announces news that
 * `follows` says concerns it (default: any), at most once every `minGapMs` for news (a
 * fleet of 10,000 reports about 330 times a second: a view re-reads what it shows a few
 * times a minute, not on every heartbeat). A token central stops accepting signs the
 * console out. An answer that arrives after a newer read started is dropped.
 */
export function useLoad<T>(
  load: (api: ConsoleApi) => Promise<T>,
  key: string,
  follows: (news: FleetChanged) => boolean = () => true,
  minGapMs = 2000,
): Loaded<T> {
  const { api, live, signOut } = useConsole();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const followsRef = useRef(follows);
  followsRef.current = follows;

  // One read at a time: news arriving during a read asks for one more read after it, not one each.
  const inFlight = useRef(false);
  const again = useRef(false);
  const lastRead = useRef(0);
  const read = useCallback(() => {
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    lastRead.current = Date.now();
    const mine = ++seq.current;
    setLoading(true);
    const done = () => {
      inFlight.current = false;
      if (again.current) {
        again.current = false;
        read();
      }
    };
    loadRef.current(api).then(
      (d) => {
        if (mine === seq.current) {
          setData(d);
          setError(null);
          setLoading(false);
        }
        done();
      },
      (err: unknown) => {
        if (mine === seq.current) {
          if (err instanceof ApiError && err.status === 401) signOut(describeError(err));
          else {
            setError(describeError(err));
            setLoading(false);
          }
        }
        done();
      },
    );
  }, [api, signOut]);
  const reload = read;

  useEffect(() => {
    // Another thing to show (a filter, a page, a till): an answer still on its way is for the old one.
    seq.current++;
    setData(null);
    read();
  }, [read, key]);
  // News waits out the gap since the last read; more news meanwhile joins the same read.
  const gapRef = useRef(minGapMs);
  gapRef.current = minGapMs;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = live.onChange((news) => {
      if (!followsRef.current(news) || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        read();
      }, Math.max(0, lastRead.current + gapRef.current - Date.now()));
    });
    return () => {
      off();
      clearTimeout(timer);
    };
  }, [live, read]);
  return { data, error, loading, reload };
}

/** An action's outcome shown beside its button: what happened, or central's refusal. */
export type Outcome = { readonly ok: boolean; readonly text: string } | null;

/** Runs an API action, keeping its outcome and whether it is under way. */
export function useAction(): [Outcome, boolean, (run: (api: ConsoleApi) => Promise<string>) => Promise<void>] {
  const { api, signOut } = useConsole();
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async (act: (api: ConsoleApi) => Promise<string>) => {
      setBusy(true);
      setOutcome(null);
      try {
        setOutcome({ ok: true, text: await act(api) });
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return signOut(describeError(err));
        setOutcome({ ok: false, text: describeError(err) });
      } finally {
        setBusy(false);
      }
    },
    [api, signOut],
  );
  return [outcome, busy, run];
}
