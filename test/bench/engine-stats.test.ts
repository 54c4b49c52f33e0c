// The arithmetic of `xlane bench engine`: summaries, the pacing analysis and the ratios.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateEngineBenchOptions } from '../../src/bench/engine.js';
import { analysePacing, benchRatios, nearestRank, summarizeNs } from '../../src/bench/engine-stats.js';

const P = 100_000; // 100 µs in ns

describe('summarizeNs', () => {
  it('gives nearest-rank percentiles in µs without reordering the input', () => {
    const ns = Float64Array.from({ length: 1000 }, (_, i) => (1000 - i) * 1000); // 1000 µs .. 1 µs
    const copy = ns.slice();
    expect(summarizeNs(ns)).toEqual({ p50: 500, p99: 990, p999: 999, max: 1000 });
    expect(ns).toEqual(copy);
  });

  it('uses only the first `count` samples', () => {
    const ns = Float64Array.from([3000, 1000, 2000, 9e9, 9e9]);
    expect(summarizeNs(ns, 3)).toEqual({ p50: 2, p99: 3, p999: 3, max: 3 });
  });

  it('reports no data as NaN (null in JSON), never as 0', () => {
    const s = summarizeNs(new Float64Array(10), 0);
    expect(JSON.parse(JSON.stringify(s))).toEqual({ p50: null, p99: null, p999: null, max: null });
  });

  it('orders its percentiles and bounds them by the samples', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e9, noNaN: true }), { minLength: 1 }), (xs) => {
        const s = summarizeNs(Float64Array.from(xs));
        const lo = Math.min(...xs) / 1000 - 0.001;
        expect(s.p50).toBeGreaterThanOrEqual(lo);
        expect(s.p50).toBeLessThanOrEqual(s.p99);
        expect(s.p99).toBeLessThanOrEqual(s.p999);
        expect(s.p999).toBeLessThanOrEqual(s.max);
        expect(s.max).toBeCloseTo(Math.max(...xs) / 1000, 3);
      }),
    );
  });

  it('nearestRank picks the smallest sample covering p%', () => {
    const sorted = Float64Array.from([1, 2, 3, 4]);
    expect(nearestRank(sorted, 50)).toBe(2);
    expect(nearestRank(sorted, 51)).toBe(3);
    expect(nearestRank(sorted, 100)).toBe(4);
    expect(nearestRank(sorted, 0)).toBe(1);
    expect(nearestRank(new Float64Array(0), 50)).toBeNaN();
  });
});

describe('analysePacing', () => {
  const run = (frames: [seq: number, sentNs: number][]) =>
    analysePacing(
      Uint32Array.from(frames.map((f) => f[0])),
      Float64Array.from(frames.map((f) => f[1])),
      frames.length,
      P,
    );

  it('measures each release against the previous release plus π', () => {
    const a = run([
      [0, 1_000_000],
      [1, 1_100_000], // on time
      [2, 1_200_500], // 0.5 µs late
      [3, 1_300_600], // 0.1 µs late (boundary counts from the late release)
    ]);
    expect(a.frames).toBe(4);
    expect(a.errors).toBe(3);
    expect([...a.errorsNs.subarray(0, a.errors)]).toEqual([0, 500, 100]);
    expect(a.missedPeriods).toBe(0);
    expect(a.lostFrames).toBe(0);
  });

  it('counts every whole period of lateness as a missed slot', () => {
    const a = run([
      [0, 0],
      [1, 2.5 * P], // 1.5 π late: one slot had no frame
      [2, 6.5 * P], // 3 π late: three slots
    ]);
    expect(a.missedPeriods).toBe(4);
  });

  it('counts slots lost to lateness that adds up, though no frame is a whole period late', () => {
    const a = run([0, 1, 2, 3, 4].map((i) => [i, i * 1.5 * P] as [number, number]));
    expect(a.errors).toBe(4);
    expect(a.missedPeriods).toBe(2); // 7 slots in 6 π, 5 frames
  });

  it('does not judge across a lost frame, and counts the loss', () => {
    const a = run([
      [7, 0],
      [10, 3 * P],
      [11, 4 * P],
    ]);
    expect(a.lostFrames).toBe(2);
    expect(a.errors).toBe(1);
    expect(a.missedPeriods).toBe(0);
  });

  it('follows the sequence across its u32 wrap', () => {
    const a = run([
      [0xffffffff, 0],
      [0, P],
    ]);
    expect(a.errors).toBe(1);
    expect(a.lostFrames).toBe(0);
  });

  it('keeps its counts consistent for any arrival pattern', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 5 * P })), {
          maxLength: 200,
        }),
        (steps) => {
          const seqs: number[] = [];
          const sent: number[] = [];
          let seq = 0;
          let t = 0;
          for (const [ds, dt] of steps) {
            seq += ds;
            t += P + dt;
            seqs.push(seq);
            sent.push(t);
          }
          const a = analysePacing(Uint32Array.from(seqs), Float64Array.from(sent), seqs.length, P);
          const pairs = Math.max(0, seqs.length - 1);
          const gaps = steps.slice(1).filter(([ds]) => ds > 1);
          expect(a.errors).toBe(pairs - gaps.length);
          expect(a.lostFrames).toBe(gaps.reduce((n, [ds]) => n + ds - 1, 0));
          const span = seqs.length ? sent[sent.length - 1]! - sent[0]! : 0;
          const slots = seqs.length ? Math.floor(span / P) + 1 : 0;
          expect(a.missedPeriods).toBe(Math.max(0, slots - seqs.length - a.lostFrames));
        },
      ),
    );
  });
});

describe('analysePacing with a release jitter E (the grid of boundaries)', () => {
  const run = (frames: [seq: number, sentNs: number][], releaseJitterNs: number, phaseNs?: number) =>
    analysePacing(
      Uint32Array.from(frames.map((f) => f[0])),
      Float64Array.from(frames.map((f) => f[1])),
      frames.length,
      P,
      { releaseJitterNs, ...(phaseNs !== undefined ? { phaseNs } : {}) },
    );

  it('judges each frame against its grid boundary: lateness within E does not carry over', () => {
    const frames: [number, number][] = [
      [0, 1_000_000],
      [1, 1_100_000 + 5_000], // 5 µs late, within E = 10 µs: the grid holds
      [2, 1_200_000 + 300], // 0.3 µs late against 1.2 ms (not against 1.105 ms + π)
      [3, 1_300_000 + 40_000], // 40 µs late: a new grid at 1.33 ms, E before it
      [4, 1_430_000], // on time on the new grid
    ];
    const a = run(frames, 10_000);
    expect([...a.errorsNs.subarray(0, a.errors)]).toEqual([5_000, 300, 40_000, 0]);
    expect(a.missedPeriods).toBe(0);
  });

  it("with the sender's phase, rebuilds the grid the engine kept: walked onto the phase by E per frame", () => {
    const frames: [number, number][] = [
      [0, 1_055_000], // first frame, 25 µs past a phase point (phase 30 µs)
      [1, 1_175_000], // boundaries walk E = 20 µs later than π each …
      [2, 1_295_000 + 4_000], // (4 µs late)
      [3, 1_415_000],
      [4, 1_530_000], // … until on the phase
      [5, 1_630_000 + 70_000], // 70 µs late: a new grid at 1.68 ms, E before its release
      [6, 1_800_000], // walking again: 1.68 ms + π + E
    ];
    const phased = run(frames, 20_000, 30_000);
    expect([...phased.errorsNs.subarray(0, phased.errors)]).toEqual([0, 4_000, 0, 0, 70_000, 0]);
    // Judged without the phase, the second frame would look 20 µs late (due 1.155 ms).
    const plain = run(frames, 20_000);
    expect(plain.errorsNs[0]).toBe(20_000);
  });

  it('a sender on the grid, late by at most E at every frame, is judged by its own lateness only', () => {
    const frames = Array.from({ length: 10_000 }, (_, i) => [i, i * P + (i % 7) * 1_000] as [number, number]);
    const a = run(frames, 10_000);
    expect(a.missedPeriods).toBe(0);
    for (let i = 1; i < a.errors + 1; i++) expect(a.errorsNs[i - 1]).toBe((i % 7) * 1_000);
  });
});

describe('analysePacing with the sender refill times', () => {
  // [seq, sentNs, refillNs, prevRefillNs]
  const run = (frames: [number, number, number, number][]) =>
    analysePacing(
      Uint32Array.from(frames.map((f) => f[0])),
      Float64Array.from(frames.map((f) => f[1])),
      frames.length,
      P,
      {
        refills: {
          refillNs: Float64Array.from(frames.map((f) => f[2])),
          prevRefillNs: Float64Array.from(frames.map((f) => f[3])),
        },
      },
    );

  it('blames a late frame on the engine when a message was waiting at the boundary', () => {
    const a = run([
      [0, 1_000_000, 990_000, 980_000],
      // refilled at 1.05 ms, before the 1.1 ms boundary; left 40 µs late: the engine's error
      [1, 1_140_000, 1_050_000, 1_030_000],
    ]);
    expect(a.appLateFrames).toBe(0);
    expect([...a.engineErrorsNs.subarray(0, a.engineErrors)]).toEqual([40_000]);
    expect(a.engineMissedPeriods).toBe(0);
  });

  it('still blames the engine when a newer message replaced the one that was waiting', () => {
    // The message before (1.08 ms) came after the previous release and before the boundary: one
    // was waiting; the frame carries a newer one (1.25 ms) because the engine left 1.5 π late.
    const a = run([
      [0, 1_000_000, 990_000, 980_000],
      [1, 1_250_000, 1_240_000, 1_080_000],
    ]);
    expect(a.appLateFrames).toBe(0);
    expect([...a.engineErrorsNs.subarray(0, a.engineErrors)]).toEqual([150_000]);
    expect(a.engineMissedPeriods).toBe(1);
  });

  it('leaves out frames the application refilled only after the boundary', () => {
    const a = run([
      [0, 1_000_000, 990_000, 980_000],
      // first refill after the release came at 1.3 ms, 200 µs after the boundary
      [1, 1_300_100, 1_300_000, 990_000],
      [2, 1_400_200, 1_390_000, 1_300_000], // waiting: 0.1 µs late
    ]);
    expect(a.errors).toBe(2); // the all-frames error still holds both
    expect(a.appLateFrames).toBe(1);
    expect([...a.engineErrorsNs.subarray(0, a.engineErrors)]).toEqual([100]);
    expect(a.engineMissedPeriods).toBe(0);
  });

  it('judges every pair exactly once: as the engine’s or the application’s', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * P }), fc.integer({ min: 0, max: 2 * P })), {
          minLength: 2,
          maxLength: 60,
        }),
        (steps) => {
          let sent = 1e9;
          let refill = sent - 1000;
          const frames: [number, number, number, number][] = [];
          for (const [i, [gap, lag]] of steps.entries()) {
            const prev = refill;
            sent += P + gap;
            refill = Math.min(sent, sent - gap - P + lag);
            frames.push([i, sent, Math.max(prev, refill), prev]);
          }
          const a = run(frames);
          expect(a.engineErrors + a.appLateFrames).toBe(a.errors);
          for (let k = 0; k < a.engineErrors; k++) expect(a.engineErrorsNs[k]).toBeGreaterThanOrEqual(0);
        },
      ),
    );
  });
});

describe('benchRatios', () => {
  const s = (p50: number, p999: number) => ({ p50, p99: p50, p999, max: p999 });

  it('compares js with plain dgram', () => {
    expect(benchRatios(s(40, 400), s(36, 364))).toEqual({ p50: 1.111, p999: 1.099 });
  });

  it('compares native with the C floor, and says how much slower dgram is', () => {
    expect(benchRatios(s(6, 30), s(36, 364), s(5, 24))).toEqual({
      p50: 1.2,
      p999: 1.25,
      dgramOverNativeP50: 6,
    });
  });

  it('gives NaN (null in JSON) instead of a ratio of missing data', () => {
    expect(benchRatios(s(Number.NaN, 1), s(0, 1)).p50).toBeNaN();
  });
});

describe('validateEngineBenchOptions', () => {
  const ok = { engine: 'js' as const, roundTrips: 10, maxSeconds: 1, pacingSeconds: 1 };

  it('accepts sane options', () => {
    expect(() => validateEngineBenchOptions(ok)).not.toThrow();
    expect(() => validateEngineBenchOptions({ ...ok, phaseUs: null })).not.toThrow();
    expect(() => validateEngineBenchOptions({ ...ok, phaseUs: 99.999 })).not.toThrow();
  });

  it.each([
    { roundTrips: 0 },
    { roundTrips: 1.5 },
    { maxSeconds: 0 },
    { pacingSeconds: -1 },
    { pacingPeriodUs: 0 },
    { engine: 'rust' },
    { receive: 'interrupt' },
    { coreA: -1 },
    { coreB: 1.5 },
    { coreA: 4096 },
    { fifoPriority: 0 },
    { fifoPriority: 100 },
    { phaseUs: -1 },
    { phaseUs: 100 },
    { phaseUs: Number.NaN },
  ])('rejects %o with XL_ERR_VALIDATION', (bad) => {
    expect(() => validateEngineBenchOptions({ ...ok, ...bad } as never)).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
  });
});
