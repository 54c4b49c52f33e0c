// `tune check --measure`: the timing findings as pure functions of a sample, and a real (short)
// measurement on this machine, which must be well-formed whatever the machine's timing is.
import { describe, expect, it } from 'vitest';
import { probeCpuGaps, probeTimerWakeup } from '../../src/tune/probes-timing.js';
import { measureTiming, type TimingSample } from '../../src/tune/timing-sample.js';

const sample = (o: Partial<TimingSample> = {}): TimingSample => ({
  core: 1,
  sleepUs: 100,
  sleeps: 2000,
  wakeLateUs: { p50: 4, p99: 9, max: 60 },
  spinMs: 500,
  gapsPerSec: 300,
  longGapsPerSec: 2,
  lostShare: 0.001,
  longestGapUs: 45,
  pinned: true,
  ...o,
});

describe('timing findings', () => {
  it('a host that wakes on time and keeps its CPU: both ok', () => {
    expect(probeTimerWakeup(sample()).status).toBe('ok');
    expect(probeCpuGaps(sample()).status).toBe('ok');
  });

  it('late wake-ups: a warning that names the margin a sender needs, nothing tune can apply', () => {
    const f = probeTimerWakeup(sample({ wakeLateUs: { p50: 40, p99: 82, max: 600 } }));
    expect(f).toMatchObject({ id: 'timing.wakeup', status: 'warn', fixKind: 'manual' });
    expect(f.recommended).toContain('~87 µs');
    expect(f.current).toContain('82 µs (p99)');
  });

  it('a CPU taken away often, or for a share of the time: a warning', () => {
    expect(probeCpuGaps(sample({ longGapsPerSec: 1560 })).status).toBe('warn');
    expect(probeCpuGaps(sample({ lostShare: 0.08 })).status).toBe('warn');
    expect(probeCpuGaps(sample({ longGapsPerSec: 49, lostShare: 0.0099 })).status).toBe('ok');
  });

  it('says when the measuring thread could not be pinned', () => {
    expect(probeTimerWakeup(sample({ pinned: false })).current).toContain('not pinned');
  });
});

describe('measureTiming on this machine', () => {
  it('measures the asked number of sleeps and a bounded spin, with consistent figures', async () => {
    const t0 = Date.now();
    const t = await measureTiming(0, { sleeps: 200, sleepUs: 100, spinMs: 50 });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(t).toMatchObject({ core: 0, sleeps: 200, sleepUs: 100, spinMs: 50 });
    expect(t.wakeLateUs.p50).toBeGreaterThanOrEqual(0);
    expect(t.wakeLateUs.p99).toBeGreaterThanOrEqual(t.wakeLateUs.p50);
    expect(t.wakeLateUs.max).toBeGreaterThanOrEqual(t.wakeLateUs.p99);
    expect(t.gapsPerSec).toBeGreaterThanOrEqual(t.longGapsPerSec);
    expect(t.lostShare).toBeGreaterThanOrEqual(0);
    expect(t.lostShare).toBeLessThan(1);
    if (process.getuid?.() === 0) expect(t.pinned).toBe(true);
  });
});
