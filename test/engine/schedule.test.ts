import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  boundaryAfterNs,
  effectivePhaseNs,
  isLateRelease,
  LATE_RELEASE_FLOOR_NS,
  NO_PHASE,
  nextBoundaryNs,
  onPhaseNs,
  releaseDelayNs,
} from '../../src/engine/schedule.js';

describe('nextBoundaryNs (the grid of period boundaries)', () => {
  const P = 100_000;

  it('keeps the grid for a frame at most E late, starts a new one E before a later release', () => {
    expect(nextBoundaryNs(1_000_000, 1_000_000, P, 10_000)).toBe(1_100_000);
    expect(nextBoundaryNs(1_000_000, 1_010_000, P, 10_000)).toBe(1_100_000);
    expect(nextBoundaryNs(1_000_000, 1_010_001, P, 10_000)).toBe(1_100_001);
    expect(nextBoundaryNs(1_000_000, 1_045_000, P, 10_000)).toBe(1_135_000);
    // A lane's first frame is its own boundary.
    expect(nextBoundaryNs(Number.NEGATIVE_INFINITY, 1_045_000, P, 10_000)).toBe(1_145_000);
  });

  it('without a phase, a late frame costs the lane only its delay beyond E', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: P - 1 }), fc.integer({ min: 0, max: 10 * P }), (E, delay) => {
        const b = 1_000_000;
        const next = nextBoundaryNs(b, b + delay, P, E);
        expect(next).toBe(b + P + Math.max(0, delay - E));
        // The frame is within E of the boundary its grid now gives it.
        expect(b + delay - (next - P)).toBeLessThanOrEqual(E);
      }),
    );
  });

  it('with E = 0 counts every boundary from the previous release', () => {
    expect(nextBoundaryNs(1_000_000, 1_000_000, P, 0)).toBe(1_100_000);
    expect(nextBoundaryNs(1_000_000, 1_000_001, P, 0)).toBe(1_100_001);
    expect(nextBoundaryNs(Number.NEGATIVE_INFINITY, 5, P, 99_999)).toBe(5 + P);
  });

  it('any j + 1 consecutive releases span at least j·π − E (the arrival curve the controller counts), with a phase or not', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: P - 1 }),
        fc.oneof(fc.constant(NO_PHASE), fc.integer({ min: 0, max: P - 1 })),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 5 * P })), {
          minLength: 2,
          maxLength: 60,
        }),
        (E, phase, delays) => {
          // Each frame leaves `delay` after the boundary it was given.
          const releases: number[] = [];
          let boundary = Number.NEGATIVE_INFINITY;
          let t = 0;
          for (const d of delays) {
            const r = Math.max(boundary, t) + d;
            releases.push(r);
            boundary = nextBoundaryNs(boundary, r, P, E, phase);
            t = r;
          }
          for (let i = 0; i < releases.length; i++)
            for (let j = i + 1; j < releases.length; j++)
              expect(releases[j]! - releases[i]!).toBeGreaterThanOrEqual((j - i) * P - E);
        },
      ),
    );
  });
});

describe('the phase from the grant', () => {
  const P = 100_000;
  const E = 20_000;
  const PH = 30_000;

  it('rounds up onto the phase grid, never down, and leaves −∞ and phase-less times alone', () => {
    expect(onPhaseNs(1_030_000, P, PH)).toBe(1_030_000);
    expect(onPhaseNs(1_030_001, P, PH)).toBe(1_130_000);
    expect(onPhaseNs(1_029_999, P, PH)).toBe(1_030_000);
    expect(onPhaseNs(10_000, P, PH)).toBe(30_000);
    expect(onPhaseNs(-80_000, P, PH)).toBe(-70_000); // negative times: residue still ≥ 0
    expect(onPhaseNs(1_234_567, P, NO_PHASE)).toBe(1_234_567);
    expect(onPhaseNs(Number.NEGATIVE_INFINITY, P, PH)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('a phase needs E > 0 (E is also how far a boundary may move per period to reach it)', () => {
    expect(effectivePhaseNs(PH, E)).toBe(PH);
    expect(effectivePhaseNs(PH, 0)).toBe(NO_PHASE);
    expect(effectivePhaseNs(PH, undefined)).toBe(NO_PHASE);
    expect(effectivePhaseNs(undefined, E)).toBe(NO_PHASE);
  });

  it('walks an off-phase grid forward onto the phase by at most E per boundary', () => {
    // First frame at 1_055_000 (25 µs past the phase point 1_030_000): anchor + π = 1_155_000 is
    // 75 µs before the next phase point, so the boundaries come E = 20 µs late until it lands.
    const walk: number[] = [];
    let boundary = Number.NEGATIVE_INFINITY;
    let r = 1_055_000;
    for (let i = 0; i < 7; i++) {
      boundary = nextBoundaryNs(boundary, r, P, E, PH);
      walk.push(boundary);
      r = boundary; // released on time
    }
    expect(walk).toEqual([1_175_000, 1_295_000, 1_415_000, 1_530_000, 1_630_000, 1_730_000, 1_830_000]);
    // On the phase once within E of it: a single step of 15 µs.
    expect(boundaryAfterNs(1_015_000, P, PH, E)).toBe(1_130_000);
    expect(boundaryAfterNs(1_030_000, P, PH, E)).toBe(1_130_000);
    // No phase: anchor + π.
    expect(boundaryAfterNs(1_055_000, P, NO_PHASE, E)).toBe(1_155_000);
    expect(boundaryAfterNs(Number.NEGATIVE_INFINITY, P, PH, E)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('keeps the grid within E and starts a new one E before the release after a stall, then walks back', () => {
    expect(nextBoundaryNs(1_030_000, 1_045_000, P, E, PH)).toBe(1_130_000); // 15 µs late: kept
    expect(nextBoundaryNs(1_030_000, 1_051_000, P, E, PH)).toBe(1_151_000); // 21 µs late: grid 1 µs on, +E
    expect(nextBoundaryNs(1_030_000, 1_540_000, P, E, PH)).toBe(1_630_000); // stall: grid at 1.52 ms, +10 µs onto the phase
    expect(nextBoundaryNs(1_030_000, 1_525_000, P, E, PH)).toBe(1_625_000); // stall: 25 µs from the phase, +E
  });

  it('a grant that moves the phase is walked onto, never jumped back to', () => {
    // Anchor 1_030_000 on the old phase (30 µs); the new phase is 60 µs: 1_130_000 → +E each time.
    expect(boundaryAfterNs(1_030_000, P, 60_000, E)).toBe(1_150_000);
    expect(boundaryAfterNs(1_150_000, P, 60_000, E)).toBe(1_260_000);
    // A new phase of 10 µs: 80 µs ahead of anchor + π, so 4 steps of E.
    expect(boundaryAfterNs(1_030_000, P, 10_000, E)).toBe(1_150_000);
  });

  it('a periodic sender released within E of each boundary reaches its phase within ⌈π/E⌉ + 1 frames and stays', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: P - 1 }),
        fc.integer({ min: 1_000, max: P / 2 }),
        fc.integer({ min: 0, max: 10 * P }),
        fc.array(fc.nat(), { minLength: 2, maxLength: 40 }),
        (phase, e, start, noise) => {
          let boundary = Number.NEGATIVE_INFINITY;
          let r = start;
          const settle = Math.ceil(P / e) + 1;
          for (const [i, n] of noise.entries()) {
            if (i > 0) r = boundary + (n % (e + 1));
            const next = nextBoundaryNs(boundary, r, P, e, phase);
            // Boundaries only ever move apart by π to π + E.
            if (i > 0) {
              expect(next - boundary).toBeGreaterThanOrEqual(P);
              expect(next - boundary).toBeLessThanOrEqual(P + e);
            }
            boundary = next;
            if (i >= settle) expect((((boundary - phase) % P) + P) % P).toBe(0);
          }
        },
      ),
    );
  });
});

describe('release delay (LaneCounters.lateReleases)', () => {
  it('counts from the boundary, or from the hand-over when the message came later', () => {
    expect(releaseDelayNs(1_000, Number.NaN, 1_500)).toBe(500); // heartbeat frame: the boundary
    expect(releaseDelayNs(1_000, 800, 1_500)).toBe(500); // waiting since before the boundary
    expect(releaseDelayNs(1_000, 1_400, 1_500)).toBe(100); // handed over after it: the lane was idle
    expect(releaseDelayNs(Number.NEGATIVE_INFINITY, 1_400, 1_500)).toBe(100); // first message
    expect(releaseDelayNs(Number.NEGATIVE_INFINITY, Number.NaN, 1_500)).toBe(0); // first heartbeat
  });

  it('is late beyond max(E, the floor)', () => {
    expect(isLateRelease(LATE_RELEASE_FLOOR_NS, 0)).toBe(false);
    expect(isLateRelease(LATE_RELEASE_FLOOR_NS + 1, 0)).toBe(true);
    expect(isLateRelease(15_000, 20_000)).toBe(false);
    expect(isLateRelease(20_001, 20_000)).toBe(true);
  });
});
