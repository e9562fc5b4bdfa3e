/**
 * Central's metrics: each instance has its own counters; the process's (CPU, memory,
 * event loop, GC) are collected once per process and shown by every instance, so a
 * process that starts and closes many centrals (the tests do) does not pile up their
 * collectors.
 */
import { describe, expect, it } from 'vitest';
import { Metrics, processMetrics } from '../../src/server/metrics.js';

const sample = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

describe('Metrics', () => {
  it("shows its own counters and the process's, which are collected once for every instance", async () => {
    const a = new Metrics();
    const families = (await processMetrics().getMetricsAsJSON()).length;
    const b = new Metrics();
    const c = new Metrics();
    expect((await processMetrics().getMetricsAsJSON()).length).toBe(families);
    expect(families).toBeGreaterThan(5);
    // No instance collects them into its own registry.
    for (const m of [a, b, c]) expect((await m.registry.getMetricsAsJSON()).filter((f) => f.name.startsWith('tillsync_process_'))).toEqual([]);
    a.pushes.inc(3);
    b.pushes.inc();
    const [ta, tb, tc] = await Promise.all([a.text(), b.text(), c.text()]);
    expect(sample(ta, 'tillsync_pushes_total')).toBe(3);
    expect(sample(tb, 'tillsync_pushes_total')).toBe(1);
    expect(sample(tc, 'tillsync_pushes_total')).toBe(0);
    for (const t of [ta, tb, tc]) {
      expect(sample(t, 'tillsync_process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(t.match(/^# TYPE tillsync_process_resident_memory_bytes /gm)).toHaveLength(1);
    }
  });

  it("leaves the process's metrics out when asked", async () => {
    const m = new Metrics(false);
    const text = await m.text();
    expect(sample(text, 'tillsync_pushes_total')).toBe(0);
    expect(text).not.toContain('tillsync_process_cpu_user_seconds_total');
  });
});
