// The engine clock is CLOCK_MONOTONIC in whole ns: the same clock as process.hrtime.bigint() (and
// the native engine's clock_gettime), so timestamps from the two engines and from other processes
// of the machine compare directly.
import { describe, expect, it } from 'vitest';
import {
  measureRealtimeOffset,
  measureRealtimeOffsetNs,
  monotonicNs,
  RealtimeOffset,
} from '../../src/engine/clock.js';

describe('monotonicNs', () => {
  it('reads CLOCK_MONOTONIC in integer ns, bracketed by hrtime.bigint()', () => {
    for (let i = 0; i < 1000; i++) {
      const a = process.hrtime.bigint();
      const t = monotonicNs();
      const b = process.hrtime.bigint();
      expect(Number.isInteger(t)).toBe(true);
      expect(BigInt(t) >= a && BigInt(t) <= b).toBe(true);
    }
  });

  it('never goes back', () => {
    let prev = monotonicNs();
    let back = 0;
    for (let i = 0; i < 100_000; i++) {
      const t = monotonicNs();
      if (t < prev) back++;
      prev = t;
    }
    expect(back).toBe(0);
  });
});

describe('the realtime offset (grant phases)', () => {
  it('measures CLOCK_REALTIME − CLOCK_MONOTONIC as an interval that holds the true value, and repeatably', () => {
    const a = measureRealtimeOffset();
    const b = measureRealtimeOffset();
    expect(a.uncertaintyNs).toBeGreaterThan(0n);
    // Each interval holds the true offset, so two measurements' intervals overlap (1 µs allowed
    // for NTP slewing the realtime clock between them).
    const diff = a.offsetNs > b.offsetNs ? a.offsetNs - b.offsetNs : b.offsetNs - a.offsetNs;
    expect(diff).toBeLessThanOrEqual(a.uncertaintyNs + b.uncertaintyNs + 1_000n);
    expect(measureRealtimeOffsetNs()).toBeTypeOf('bigint');
    // Against Date.now() and hrtime read together: within the ms Date.now() truncates, plus noise.
    const viaDate = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    expect(a.offsetNs - viaDate).toBeGreaterThanOrEqual(-1_000_000n);
    expect(a.offsetNs - viaDate).toBeLessThanOrEqual(2_000_000n);
  });

  it('keeps its value through measurement noise, moves on a clock step, re-measures at most every maxAge', () => {
    const samples = [1_000n, 1_050n, 90_000n, 500_000n];
    let measured = 0;
    let now = 0;
    const offset = new RealtimeOffset(
      () => samples[measured++]!,
      60_000,
      100_000n,
      () => now,
    );
    expect(measured).toBe(0); // measured on first use only
    expect(offset.get()).toBe(1_000n);
    now = 59_999;
    expect(offset.get()).toBe(1_000n);
    expect(measured).toBe(1);
    now = 60_000;
    expect(offset.get()).toBe(1_000n); // 50 ns of noise: kept
    now = 120_000;
    expect(offset.get()).toBe(1_000n); // 89 µs: still under the 100 µs step
    now = 180_000;
    expect(offset.get()).toBe(500_000n); // a step: taken
    expect(measured).toBe(4);
  });
});
