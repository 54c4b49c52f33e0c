import { describe, expect, it } from 'vitest';
import {
  backlogBytes,
  burstBytes,
  grantedLambdaMax,
  hopDelayNs,
  laneRateBps,
  nextGrantedLambdaMax,
} from '../../src/alloc/bounds.js';
import { MIN_WIRE_BYTES, wireBytes } from '../../src/alloc/wire.js';

const policy = { headroom: 0.05, quantumNs: 100 };

describe('per-hop bound (DESIGN.md worked check)', () => {
  it('100 lanes × 128 B every 100 µs through 10 Gb/s with 1500 B blocking: D = 1.2 + 10.24 = 11.44 µs', () => {
    const bursts = 100 * 128;
    expect(hopDelayNs(10e9, 1500, bursts)).toBeCloseTo(11_440, 9);
    // The load of those lanes: 100 × 128 B / 100 µs = 1.024 Gbit/s, well inside a 20 % share.
    expect(100 * laneRateBps(128, 100_000)).toBeCloseTo(1.024e9, 3);
  });

  it('blocking alone is one best-effort frame time', () => {
    expect(hopDelayNs(1e9, 1538, 0)).toBe(12_304);
  });

  it('burst grows with upstream jitter at the lane rate', () => {
    // 184 B every 100 µs that may be delayed 3 µs upstream: 184 + 184/100000 · 3000 = 189.52 B.
    expect(burstBytes(184, 100_000, 3000)).toBeCloseTo(189.52, 10);
    expect(backlogBytes(1000, 0.002, 12_304)).toBeCloseTo(1024.608, 10);
  });

  it('frames are charged with every header on the wire', () => {
    expect(wireBytes(64)).toBe(184);
    expect(MIN_WIRE_BYTES).toBe(120);
  });
});

describe('granted window', () => {
  it('adds headroom and rounds up to the quantum', () => {
    expect(grantedLambdaMax(41_929.44, policy)).toBe(44_100);
    expect(grantedLambdaMax(1000, policy)).toBe(1100);
  });

  it('is capped at the deadline, and infeasible past it', () => {
    expect(grantedLambdaMax(41_929.44, policy, 43_000)).toBe(43_000);
    expect(grantedLambdaMax(41_929.44, policy, 41_929.44)).toBe(41_929.44);
    expect(grantedLambdaMax(41_929.44, policy, 40_000)).toBeNaN();
  });

  it('hysteresis: raised whenever the bound passes it, lowered only beyond the headroom', () => {
    expect(nextGrantedLambdaMax(44_100, 45_000, policy)).toBe(47_300);
    expect(nextGrantedLambdaMax(44_100, 42_000, policy)).toBe(44_100); // fresh 44_100: unchanged
    expect(nextGrantedLambdaMax(44_100, 40_000, policy)).toBe(44_100); // fresh 42_000, within 5 %
    expect(nextGrantedLambdaMax(44_100, 30_000, policy)).toBe(31_500); // far below: lowered
  });
});
