// The pure half of host calibration: latencies → summary → bounds, split between send and receive.
import { describe, expect, it } from 'vitest';
import { describe as describeBounds, hostLatencyRequest } from '../../src/agent/host-bounds/measure.js';
import {
  parseBoundsPolicy,
  parseCalibrateSeconds,
  parseHostBoundsMode,
} from '../../src/agent/host-bounds/options.js';
import {
  DEFAULT_BOUNDS_POLICY,
  deriveHostBounds,
  nearestRank,
} from '../../src/agent/host-bounds/statistics.js';

/** 1 µs, 2 µs, …, n µs, in a scrambled order. */
function ramp(n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 7919) % n) * 1000 + 1000;
  return a;
}

describe('deriveHostBounds', () => {
  it('min is half the observed min; max is p99.99 × 1.5 when that is above the observed max', () => {
    const d = deriveHostBounds(ramp(10_000));
    expect(d.policy).toEqual(DEFAULT_BOUNDS_POLICY);
    expect(d.summary).toEqual({
      samples: 10_000,
      discarded: 0,
      minNs: 1_000,
      p50Ns: 5_000_000,
      p99Ns: 9_900_000,
      quantileNs: 9_999_000,
      maxNs: 10_000_000,
    });
    expect(d.maxFrom).toBe('quantile');
    expect(d.total).toEqual({ minNs: 500, maxNs: 14_998_500 });
    expect(d.send).toEqual({ minNs: 250, maxNs: 7_499_250 });
    expect(d.recv).toEqual(d.send);
  });

  it('minFactor scales the lower bound only: 1 keeps the observed min, a smaller one leaves room below it', () => {
    const v = ramp(10_000);
    const whole = deriveHostBounds(v, v.length, { minFactor: 1 });
    expect(whole.total).toEqual({ minNs: 1_000, maxNs: 14_998_500 });
    const third = deriveHostBounds(v, v.length, { minFactor: 1 / 3 });
    expect(third.total).toEqual({ minNs: 333, maxNs: 14_998_500 });
    expect(third.send.minNs + third.recv.minNs).toBeLessThanOrEqual(third.total.minNs);
    // The floor under λ_max stays the observed min, not the scaled one.
    const flat = deriveHostBounds([8_000, 8_000], 2, { keepObservedMax: false, quantile: 0.5 });
    expect(flat.total).toEqual({ minNs: 4_000, maxNs: 12_000 });
  });

  it('never promises less than the calibration saw: one outlier above quantile × factor sets the max', () => {
    const v = new Float64Array(10_000).fill(10_000);
    v[1234] = 5_000_000;
    const d = deriveHostBounds(v);
    expect(d.summary.quantileNs).toBe(10_000);
    expect(d.maxFrom).toBe('observedMax');
    expect(d.total).toEqual({ minNs: 5_000, maxNs: 5_000_000 });
  });

  it('keepObservedMax: false makes a quantile promise: quantile × factor even below that outlier', () => {
    const v = new Float64Array(10_000).fill(10_000);
    v[1234] = 5_000_000;
    const d = deriveHostBounds(v, v.length, { keepObservedMax: false });
    expect(d.maxFrom).toBe('quantile');
    expect(d.total).toEqual({ minNs: 5_000, maxNs: 15_000 });
    expect(describeBounds(d)).toMatch(
      /upper bound from p99\.99 × 1\.5, below the observed max: a p99\.99 promise, about 0\.01 % of frames may exceed it\)$/,
    );
    // Never a window below its own minimum, whatever the quantile.
    const low = deriveHostBounds([5_000, 5_000, 9_000], 3, { keepObservedMax: false, quantile: 0.01 });
    expect(low.total.maxNs).toBeGreaterThanOrEqual(low.total.minNs);
    // And with the floor kept (the default) the same samples keep the outlier.
    expect(deriveHostBounds(v).total.maxNs).toBe(5_000_000);
  });

  it('the split adds up: send + recv ≤ the min and ≥ the max, whatever the share', () => {
    for (const sendShare of [0, 0.3, 0.5, 0.77, 1]) {
      const d = deriveHostBounds([9_001, 12_345, 77_777], 3, { sendShare, quantile: 0.5, safetyFactor: 1.1 });
      expect(d.send.minNs + d.recv.minNs).toBeLessThanOrEqual(d.total.minNs);
      expect(d.send.maxNs + d.recv.maxNs).toBeGreaterThanOrEqual(d.total.maxNs);
      expect(d.send.minNs).toBeLessThanOrEqual(d.send.maxNs);
      expect(d.recv.minNs).toBeLessThanOrEqual(d.recv.maxNs);
    }
    const all = deriveHostBounds([10, 20], 2, { sendShare: 1 });
    expect(all.recv).toEqual({ minNs: 0, maxNs: 0 });
    expect(all.send).toEqual(all.total);
  });

  it('does not depend on arrival order, and reads only the first `count` samples', () => {
    const a = ramp(2_000);
    const reversed = Float64Array.from(a).reverse();
    expect(deriveHostBounds(reversed)).toEqual(deriveHostBounds(a));
    const withJunk = new Float64Array([5_000, 6_000, 99_999_999]);
    expect(deriveHostBounds(withJunk, 2).summary.maxNs).toBe(6_000);
  });

  it('discards negative and non-finite samples (a clock bug, not a latency) and says how many', () => {
    const d = deriveHostBounds([-5, Number.NaN, 3_000, Number.POSITIVE_INFINITY, 4_000]);
    expect(d.summary).toMatchObject({ samples: 2, discarded: 3, minNs: 3_000, maxNs: 4_000 });
  });

  it('refuses to derive anything from no sample, and a policy out of range', () => {
    expect(() => deriveHostBounds([])).toThrow(expect.objectContaining({ code: 'XL_ERR_CALIBRATION' }));
    expect(() => deriveHostBounds([-1, Number.NaN])).toThrow(
      expect.objectContaining({ code: 'XL_ERR_CALIBRATION' }),
    );
    for (const bad of [
      { quantile: 0 },
      { quantile: 1.5 },
      { safetyFactor: 0.9 },
      { sendShare: -0.1 },
      { minFactor: 0 },
      { minFactor: 1.01 },
      { minFactor: Number.NaN },
    ]) {
      expect(() => deriveHostBounds([1, 2], 2, bad)).toThrow(
        expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
      );
    }
  });

  it('nearest rank: q = 1 is the max, a tiny q the min, p50 of 1..4 is 2', () => {
    const s = [1, 2, 3, 4];
    expect(nearestRank(s, 1)).toBe(4);
    expect(nearestRank(s, 1e-9)).toBe(1);
    expect(nearestRank(s, 0.5)).toBe(2);
    expect(nearestRank([7], 0.9999)).toBe(7);
  });
});

describe('the PUT body and the log line', () => {
  it('carries the bounds and how they were measured', () => {
    const d = deriveHostBounds(ramp(10_000));
    const run = {
      engine: 'js' as const,
      periodNs: 100_000,
      durationNs: 2e9 + 0.4,
      payloadBytes: 64,
      sent: 10_003,
      lost: 3,
    };
    expect(hostLatencyRequest(run, d)).toEqual({
      sendLatency: d.send,
      recvLatency: d.recv,
      measured: {
        samples: 10_000,
        periodNs: 100_000,
        durationNs: 2e9,
        method: 'loopback',
        engine: 'js',
        quantile: 0.9999,
        safetyFactor: 1.5,
        keepObservedMax: true,
        sendShare: 0.5,
        minFactor: 0.5,
        lost: 3,
        observed: {
          minNs: 1_000,
          p50Ns: 5_000_000,
          p99Ns: 9_900_000,
          quantileNs: 9_999_000,
          maxNs: 10_000_000,
        },
      },
    });
    expect(describeBounds(d)).toBe(
      'host bounds measured: send 0.3..7499.3 µs, recv 0.3..7499.3 µs (10000 frames; one-way min 1 µs, ' +
        'p50 5000, p99 9900, p99.99 9999, max 10000 µs; lower bound the min × 0.5; upper bound from p99.99 × 1.5)',
    );
  });
});

describe('agent flags', () => {
  it('--host-bounds declared|measure, --calibrate-seconds in (0, 30]', () => {
    expect(parseHostBoundsMode('declared')).toBe('declared');
    expect(parseHostBoundsMode('measure')).toBe('measure');
    expect(() => parseHostBoundsMode('measured')).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
    expect(parseCalibrateSeconds('0.5')).toBe(0.5);
    expect(parseCalibrateSeconds('30')).toBe(30);
    for (const bad of ['0', '31', '-1', 'abc', '']) {
      expect(() => parseCalibrateSeconds(bad)).toThrow(
        expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
      );
    }
  });
});

describe('--bounds-* flags', () => {
  it('passes on only the fields given, as numbers, and --no-bounds-keep-max as keepObservedMax: false', () => {
    expect(parseBoundsPolicy({})).toEqual({});
    expect(parseBoundsPolicy({ boundsKeepMax: true })).toEqual({});
    expect(
      parseBoundsPolicy({
        boundsQuantile: '0.999',
        boundsFactor: '2',
        boundsSendShare: '1',
        boundsMinFactor: '0.8',
        boundsKeepMax: false,
      }),
    ).toEqual({ quantile: 0.999, safetyFactor: 2, sendShare: 1, minFactor: 0.8, keepObservedMax: false });
  });

  it('refuses what is not a number or out of range, naming it', () => {
    const bad: [Parameters<typeof parseBoundsPolicy>[0], RegExp][] = [
      [{ boundsQuantile: 'abc' }, /--bounds-quantile must be a number/],
      [{ boundsQuantile: '' }, /--bounds-quantile must be a number/],
      [{ boundsQuantile: '1.5' }, /quantile must be in \(0, 1\]/],
      [{ boundsQuantile: '0' }, /quantile must be in \(0, 1\]/],
      [{ boundsFactor: '0.9' }, /safetyFactor must be ≥ 1/],
      [{ boundsSendShare: '-0.1' }, /sendShare must be in \[0, 1\]/],
      [{ boundsMinFactor: '0' }, /minFactor must be in \(0, 1\]/],
      [{ boundsMinFactor: '2' }, /minFactor must be in \(0, 1\]/],
      [{ boundsMinFactor: 'x' }, /--bounds-min-factor must be a number/],
    ];
    for (const [flags, message] of bad) {
      expect(() => parseBoundsPolicy(flags)).toThrow(
        expect.objectContaining({ code: 'XL_ERR_VALIDATION', message: expect.stringMatching(message) }),
      );
    }
  });
});
