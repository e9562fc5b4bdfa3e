/** bench/cpu-samples.ts: a CPU profile's samples shared out by side, by function or line, by our nearest caller, and inclusively. */
import { describe, expect, it } from 'vitest';
import { summarize, type CpuProfile } from '../../bench/cpu-samples.js';

const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
// root -> pushAll (engine) -> run (native): 3 samples, 2 on line 10 of pushAll's own code and 1 in run
//      -> push (central) -> parse (zod): 4 samples
//      -> (garbage collector): 1 sample
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 6] },
    { id: 2, callFrame: frame('pushAll', 'file:///work/main/build/main/sync/push-loop.js', 4), children: [3], positionTicks: [{ line: 10, ticks: 2 }] },
    { id: 3, callFrame: frame('run', '') },
    { id: 4, callFrame: frame('push', 'file:///work/main/build/server/services/push.js', 7), children: [5] },
    { id: 5, callFrame: frame('parse', 'file:///work/main/node_modules/zod/v4/core/schemas.js') },
    { id: 6, callFrame: frame('(garbage collector)', '') },
  ],
  samples: [2, 2, 3, 5, 5, 5, 5, 6],
};

describe('summarize (a CPU profile as tables)', () => {
  it('shares the samples by side, attributing native and library time to our nearest caller', () => {
    const s = summarize(profile, { ours: '/build/', byLine: true });
    expect(s.samples).toBe(8);
    expect(Object.fromEntries(s.bySide)).toEqual({ 'the engine (main/)': 37.5, 'central (server/)': 50, 'garbage collection': 12.5 });
    expect(Object.fromEntries(s.nativeByCaller)).toEqual({
      'parse <- push build/server/services/push.js:8': 50,
      'run <- pushAll build/main/sync/push-loop.js:5': 12.5,
      '(garbage collector) <- (none of ours)': 12.5,
    });
    // Our code by line (its ticks), others by function.
    expect(Object.fromEntries(s.self)).toEqual({ 'build/main/sync/push-loop.js:10': 25, run: 12.5, 'parse npm:zod/v4/core/schemas.js': 50, '(garbage collector)': 12.5 });
    expect(Object.fromEntries(s.inclusive)).toEqual({ 'push build/server/services/push.js:8': 50, 'pushAll build/main/sync/push-loop.js:5': 37.5 });
  });

  it('by function when the profile has no lines of ours (sources run by tsx)', () => {
    const s = summarize(profile, { ours: '/build/', byLine: false });
    expect(s.self[0]).toEqual(['parse npm:zod/v4/core/schemas.js', 50]);
    expect(Object.fromEntries(s.self)['pushAll build/main/sync/push-loop.js:5']).toBe(25);
  });
});
