/**
 * Waiting for a forked benchmark process's messages by type: `next(type)` resolves
 * with the next message of that type (one message goes to one waiter), rejects after
 * `timeoutMs`, and every waiter is rejected when the process reports an `error`
 * message or exits. The fleet's load generators and figure 14's till processes both
 * speak this way.
 */
import type { ChildProcess } from 'node:child_process';

type Message = { readonly type: string };
type ErrorMessage = { readonly type: 'error'; readonly error: string };

export type NextMessage<M extends Message> = <T extends M['type']>(type: T, timeoutMs: number) => Promise<Extract<M, { type: T }>>;

export function childMessages<M extends Message>(child: ChildProcess, label: string): NextMessage<M> {
  const waiting = new Set<{ type: string; resolve(m: M): void; reject(e: Error): void }>();
  child.on('message', (raw: unknown) => {
    const m = raw as M;
    for (const w of waiting) {
      if (m.type === 'error') w.reject(new Error(`${label} failed: ${(m as unknown as ErrorMessage).error}`));
      else if (m.type === w.type) w.resolve(m);
      else continue;
      waiting.delete(w);
      if (m.type !== 'error') break;
    }
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting) w.reject(new Error(`${label} exited (${code ?? signal})`));
    waiting.clear();
  });
  return <T extends M['type']>(type: T, timeoutMs: number) =>
    new Promise<Extract<M, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(entry);
        reject(new Error(`${label}: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry = {
        type,
        resolve: (m: M) => {
          clearTimeout(timer);
          resolve(m as Extract<M, { type: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      waiting.add(entry);
    });
}
