// The interference bench's arithmetic on hand-made samples: window judgement, percentiles, the log
// CDF and the per-window series.
import { describe, expect, it } from 'vitest';
import { analyseLane, logCdf } from '../../src/bench/interference-stats.js';
import { W } from './lane-window.js';

function samples(latUs: number[], startNs = 5e9) {
  const n = latUs.length;
  const receivedNs = new Float64Array(n);
  const latencyNs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    receivedNs[i] = startNs + i * 100_000;
    latencyNs[i] = latUs[i]! * 1000;
  }
  return { receivedNs, latencyNs, count: n, lost: 2, startNs };
}

/** Frames sent at `sentNs`, each 20 µs in flight, received in that order. */
function sent(sentNs: number[], lost: number) {
  const n = sentNs.length;
  const receivedNs = Float64Array.from(sentNs, (t) => t + 20_000);
  const latencyNs = new Float64Array(n).fill(20_000);
  return { receivedNs, latencyNs, count: n, lost, startNs: 0 };
}

describe('analyseLane', () => {
  it('judges each message against [λ_min, λ_max] and lists the outliers with their time', () => {
    // 1000 messages: 997 at 20 µs, one early (5 µs), two late (150 µs, 1 ms).
    const lat = Array.from({ length: 1000 }, () => 20);
    lat[10] = 5;
    lat[500] = 150;
    lat[999] = 1000;
    const r = analyseLane(W, samples(lat));
    expect(r.messages).toBe(1000);
    expect(r.outliers).toBe(3);
    expect(r.withinBound).toBe(0.997);
    expect(r.lost).toBe(2);
    expect(r.firstOutliers).toEqual([
      { tSec: 0.001, latencyUs: 5 },
      { tSec: 0.05, latencyUs: 150 },
      { tSec: 0.1, latencyUs: 1000 },
    ]);
    expect([r.p50Us, r.p99Us, r.p999Us, r.maxUs]).toEqual([20, 20, 150, 1000]);
    expect(r.boundUs).toBe(100);
    expect(r.lambdaMinUs).toBe(10);
    // λ_max ÷ p99.9
    expect(r.tightness).toBe(0.67);
  });

  it('splits the late outliers by when the receiving kernel had them', () => {
    // Kernel latency (sender's stamp → kernel stamp) per message, µs; 0: no stamp.
    const lat = [20, 5, 150, 400, 120, 130, 20];
    const kernel = [15, 4, 30, 380, 100, 0, 16];
    const s = samples(lat);
    const r = analyseLane(W, { ...s, kernelLatencyNs: Float64Array.from(kernel, (k) => k * 1000) });
    expect(r.outliers).toBe(5);
    // 150 (kernel 30) and 120 (kernel 100 = λ_max, still in time): late in the receiver; 400
    // (kernel 380): late on arrival; 130 without a stamp: unknown; 5: early.
    expect(r.outlierCauses).toEqual({
      early: 1,
      late: 4,
      lateInReceiver: 2,
      lateOnArrival: 1,
      lateUnknown: 1,
    });
    // Without kernel stamps (the js engine) every late one is unknown.
    expect(analyseLane(W, s).outlierCauses).toEqual({
      early: 1,
      late: 4,
      lateInReceiver: 0,
      lateOnArrival: 0,
      lateUnknown: 4,
    });
  });

  it('p99.99 is the tightest λ_max that keeps 99.99 % within; its ratio to p99.9 is the floor of the tightness', () => {
    // 20,000 messages: 19,970 at 20 µs, 20 at 100 µs (p99.9), 8 at 300 µs (p99.99), 2 at 2 ms.
    const lat = Array.from({ length: 20_000 }, () => 20);
    for (let i = 0; i < 30; i++) lat[100 + i * 600] = i < 20 ? 100 : i < 28 ? 300 : 2000;
    const r = analyseLane({ ...W, lambdaMaxNs: 900_000 }, samples(lat));
    expect([r.p999Us, r.p9999Us, r.maxUs]).toEqual([100, 300, 2000]);
    expect(r.tightness).toBe(9);
    expect(r.tightnessFloor).toBe(3);
    // A promise at p99.99 keeps exactly the two 2 ms messages out: 99.99 % within.
    expect(analyseLane({ ...W, lambdaMaxNs: 300_000 }, samples(lat)).withinBound).toBe(0.9999);
    expect(analyseLane({ ...W, lambdaMaxNs: 299_000 }, samples(lat)).withinBound).toBeLessThan(0.9999);
  });

  it('cuts the run into 100 ms windows with their own percentiles', () => {
    // 3000 messages 100 µs apart = 0.3 s: three windows; the second one is slower.
    const lat = Array.from({ length: 3000 }, (_, i) => (i >= 1000 && i < 2000 ? 50 : 20));
    const r = analyseLane(W, samples(lat));
    expect(r.series.map((s) => [s.tSec, s.messages, s.p50Us])).toEqual([
      [0.05, 1000, 20],
      [0.15, 1000, 50],
      [0.25, 1000, 20],
    ]);
  });

  it('sendRate: the share of the periods between the first and last sender stamp that carried a frame', () => {
    const P = W.periodNs;
    // Sent every 1.5 π, 20 µs in flight: 1000 frames over 999 × 1.5 π = 1498.5 periods → 1499.
    const slow = sent(
      Array.from({ length: 1000 }, (_, i) => i * 1.5 * P),
      0,
    );
    expect(analyseLane(W, slow).sendRate).toBe(Math.round((1000 / 1499) * 1e4) / 1e4);
    // One frame every period, 10 of them lost on the way: the sender missed nothing.
    const every = Array.from({ length: 1000 }, (_, i) => i * P).filter((_, i) => i % 100 !== 50);
    expect(analyseLane(W, sent(every, 10)).sendRate).toBe(1);
    // Arrival order is not send order: the frame sent first (at 0) arrives last, 200 π in flight.
    // The earliest stamp still starts the span: 100 frames in 100 periods.
    const late = sent(
      Array.from({ length: 100 }, (_, i) => ((i + 1) % 100) * P),
      0,
    );
    late.latencyNs[99] = 200 * P;
    late.receivedNs[99] = 200 * P;
    expect(analyseLane(W, late).sendRate).toBe(1);
    expect(Number.isNaN(analyseLane(W, sent([0], 0)).sendRate!)).toBe(true);
  });

  it('an empty recording gives no figures, never zeros', () => {
    const r = analyseLane(W, samples([]));
    expect(r.messages).toBe(0);
    expect(Number.isNaN(r.p99Us)).toBe(true);
    expect(Number.isNaN(r.withinBound)).toBe(true);
    expect(Number.isNaN(r.p9999Us!)).toBe(true);
    expect(Number.isNaN(r.tightnessFloor!)).toBe(true);
    expect(r.cdf).toEqual([]);
    expect(r.series).toEqual([]);
  });
});

describe('logCdf', () => {
  it('rises monotonically to 1 at the largest sample, at most 300 points', () => {
    const sorted = new Float64Array(10_000).map((_, i) => 1000 + i * i).sort();
    const cdf = logCdf(sorted);
    expect(cdf.length).toBeLessThanOrEqual(300);
    expect(cdf[cdf.length - 1]).toEqual({ latencyUs: (1000 + 9999 * 9999) / 1000, fraction: 1 });
    for (let i = 1; i < cdf.length; i++) {
      expect(cdf[i]!.latencyUs).toBeGreaterThan(cdf[i - 1]!.latencyUs);
      expect(cdf[i]!.fraction).toBeGreaterThanOrEqual(cdf[i - 1]!.fraction);
    }
  });

  it('a single value is one point at fraction 1', () => {
    expect(logCdf(new Float64Array([5000, 5000]))).toEqual([{ latencyUs: 5, fraction: 1 }]);
  });
});
