// φ-accrual (Akka's formulation) against hand-computed values and Akka's own test table, its exact
// crossing time, the sliding window rules; and the fixed-timeout detector of the same shape.
import { describe, expect, it } from 'vitest';
import type { HeartbeatDetector } from '../../src/fd/detector.js';
import { FixedTimeoutDetector } from '../../src/fd/fixed-timeout.js';
import { PhiAccrualDetector, phiCrossingNs, phiOf } from '../../src/fd/phi-accrual.js';

describe('phiOf', () => {
  it('matches values computed by hand from Akka’s formula (mean 1000, σ 100)', () => {
    // y = (Δ − 1000)/100, e = exp(−y(1.5976 + 0.070566 y²)), φ = −log10(e/(1+e))
    expect(phiOf(1000, 1000, 100)).toBeCloseTo(Math.log10(2), 12); // y = 0: 1 − F = ½
    expect(phiOf(1200, 1000, 100)).toBeCloseTo(1.6428278854871123, 10);
    expect(phiOf(800, 1000, 100)).toBeCloseTo(0.009998761629963108, 10);
    expect(phiOf(1500, 1000, 100)).toBeCloseTo(7.299947394460206, 10);
    expect(phiOf(1600, 1000, 100)).toBeCloseTo(10.782600858295707, 10);
    expect(phiOf(2000, 1000, 100)).toBeCloseTo(37.58471305287122, 8);
  });

  it('reproduces Akka’s own test table (PhiAccrualFailureDetectorSpec, ±0.1)', () => {
    const table: [number, number][] = [
      [0, 0.0],
      [500, 0.1],
      [1000, 0.3],
      [1200, 1.6],
      [1400, 4.7],
      [1600, 10.8],
      [1700, 15.3],
    ];
    for (const [dt, want] of table) expect(Math.abs(phiOf(dt, 1000, 100) - want)).toBeLessThan(0.1);
  });

  it('stays finite and increasing far out, where Akka’s own form underflows to Infinity', () => {
    const a = phiOf(10_000, 1000, 100);
    const b = phiOf(20_000, 1000, 100);
    expect(Number.isFinite(b)).toBe(true);
    expect(b).toBeGreaterThan(a);
  });
});

describe('phiCrossingNs', () => {
  it('finds the Δ where φ reaches the threshold (checked against bisection done apart)', () => {
    expect(phiCrossingNs(8, 1000, 100)).toBeCloseTo(1522.5986644093562, 6);
    expect(phiCrossingNs(1, 1000, 100)).toBeCloseTo(1128.2215344966694, 6);
    expect(phiCrossingNs(3, 1000, 100)).toBeCloseTo(1305.8937819446094, 6);
    expect(phiCrossingNs(10, 1000, 100)).toBeCloseTo(1579.902471473057, 6);
    // Below φ(mean) = log10 2 the crossing is before the mean.
    expect(phiCrossingNs(0.1, 1000, 100)).toBeCloseTo(917.8692423093177, 6);
  });

  it('round-trips: φ at the crossing equals the threshold', () => {
    for (const t of [0.05, 0.5, 2, 8, 12, 16, 30]) {
      expect(phiOf(phiCrossingNs(t, 5e6, 2e5), 5e6, 2e5)).toBeCloseTo(t, 8);
    }
  });

  it('refuses a threshold that is not positive', () => {
    expect(() => phiCrossingNs(0, 1, 1)).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
  });
});

describe('PhiAccrualDetector', () => {
  const base = {
    threshold: 8,
    minStdDeviationNs: 100,
    acceptableHeartbeatPauseNs: 0,
    firstHeartbeatEstimateNs: 1000,
  };

  it('is available with φ = 0 and never suspects before the first heartbeat', () => {
    const d = new PhiAccrualDetector(base);
    expect(d.phi(123_456)).toBe(0);
    expect(d.isAvailable(1e15)).toBe(true);
    expect(d.suspectAtNs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('seeds the window with estimate ± ¼ (mean 1000, σ 250) on the first heartbeat', () => {
    const d = new PhiAccrualDetector(base);
    d.heartbeat(0);
    expect(d.samples).toBe(2);
    expect(d.meanNs).toBe(1000);
    expect(d.stdDevNs).toBe(250); // √((750² + 1250²)/2 − 1000²)
    expect(d.phi(1000)).toBeCloseTo(Math.log10(2), 12);
    // 1000 + 250 · y(8), y(8) = 5.225986644093562 (the σ = 100 crossing above, scaled)
    expect(d.suspectAtNs()).toBeCloseTo(1000 + 250 * 5.225986644093562, 6);
  });

  it('suspects exactly from its crossing time on', () => {
    const d = new PhiAccrualDetector(base);
    for (let t = 0; t <= 20_000; t += 1000) d.heartbeat(t);
    const at = d.suspectAtNs();
    expect(d.isAvailable(at - 1e-3)).toBe(true);
    expect(d.isAvailable(at)).toBe(false);
    expect(d.phi(at)).toBeCloseTo(8, 8);
  });

  it('floors σ at minStdDeviation and adds the acceptable pause to the mean', () => {
    const d = new PhiAccrualDetector({ ...base, maxSampleSize: 4, acceptableHeartbeatPauseNs: 500 });
    for (let t = 0; t <= 10_000; t += 1000) d.heartbeat(t); // the seeds left the window: all 1000
    expect(d.meanNs).toBe(1000);
    expect(d.stdDevNs).toBe(100);
    expect(d.suspectAtNs()).toBeCloseTo(10_000 + 1500 + 100 * 5.225986644093562, 6);
  });

  it('keeps the last maxSampleSize intervals, and leaves out the interval of a heartbeat that came after suspicion', () => {
    const d = new PhiAccrualDetector({ ...base, maxSampleSize: 3 });
    d.heartbeat(0); // [750, 1250]
    d.heartbeat(1000); // [750, 1250, 1000]
    d.heartbeat(2100); // [1250, 1000, 1100]
    expect(d.samples).toBe(3);
    expect(d.meanNs).toBeCloseTo((1250 + 1000 + 1100) / 3, 9);
    const before = d.meanNs;
    d.heartbeat(2100 + 10_000); // φ ≫ 8 at that time: the pause does not teach the window
    expect(d.meanNs).toBe(before);
    expect(d.lastHeartbeatNs).toBe(12_100);
  });

  it('keeps exact statistics over many window turns (running sums re-added)', () => {
    const d = new PhiAccrualDetector({ ...base, maxSampleSize: 10, firstHeartbeatEstimateNs: 1e6 });
    let t = 0;
    for (let i = 0; i < 5000; i++) {
      t += 1e6 + (i % 2 === 0 ? 10 : -10);
      d.heartbeat(t);
    }
    expect(d.meanNs).toBeCloseTo(1e6, 6);
    expect(d.stdDevNs).toBeCloseTo(100, 6); // true σ is 10: the 100 ns floor
  });

  it('validates its options', () => {
    expect(() => new PhiAccrualDetector({ maxSampleSize: 0 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
    expect(() => new PhiAccrualDetector({ minStdDeviationNs: 0 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
  });
});

describe('FixedTimeoutDetector', () => {
  it('suspects at last heartbeat + timeout, the same shape as φ-accrual', () => {
    const d: HeartbeatDetector = new FixedTimeoutDetector(1_433_880);
    expect(d.suspectAtNs()).toBe(Number.POSITIVE_INFINITY);
    expect(d.isAvailable(1e12)).toBe(true);
    d.heartbeat(5_000_000);
    expect(d.lastHeartbeatNs).toBe(5_000_000);
    expect(d.suspectAtNs()).toBe(6_433_880);
    expect(d.isAvailable(6_433_879)).toBe(true);
    expect(d.isAvailable(6_433_880)).toBe(false);
    expect(() => new FixedTimeoutDetector(0)).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
  });
});
