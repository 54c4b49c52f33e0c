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

  it('keeps the grid for a frame at most E late, starts a new one after a longer delay', () => {
    expect(nextBoundaryNs(1_000_000, 1_000_000, P, 10_000)).toBe(1_100_000);
    expect(nextBoundaryNs(1_000_000, 1_010_000, P, 10_000)).toBe(1_100_000);
    expect(nextBoundaryNs(1_000_000, 1_010_001, P, 10_000)).toBe(1_110_001);
  });

  it('with E = 0 counts every boundary from the previous release', () => {
    expect(nextBoundaryNs(1_000_000, 1_000_000, P, 0)).toBe(1_100_000);
    expect(nextBoundaryNs(1_000_000, 1_000_001, P, 0)).toBe(1_100_001);
    expect(nextBoundaryNs(Number.NEGATIVE_INFINITY, 5, P, 99_999)).toBe(5 + P);
  });

  it('any j + 1 consecutive releases span at least j·π − E (the arrival curve the controller counts)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: P - 1 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 5 * P })), {
          minLength: 2,
          maxLength: 60,
        }),
        (E, delays) => {
          // Each frame leaves `delay` after the boundary it was given.
          const releases: number[] = [];
          let boundary = Number.NEGATIVE_INFINITY;
          let t = 0;
          for (const d of delays) {
            const r = Math.max(boundary, t) + d;
            releases.push(r);
            boundary = nextBoundaryNs(boundary, r, P, E);
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

  it('a phase needs E > 0: with E = 0 every frame would start a new grid one phase point later', () => {
    expect(effectivePhaseNs(PH, E)).toBe(PH);
    expect(effectivePhaseNs(PH, 0)).toBe(NO_PHASE);
    expect(effectivePhaseNs(PH, undefined)).toBe(NO_PHASE);
    expect(effectivePhaseNs(undefined, E)).toBe(NO_PHASE);
  });

  it('a first frame leaves at once, and the next boundary is on the phase grid', () => {
    // Released 25 µs after a phase point (more than E): the anchor is the first phase point
    // ≥ release − E = 1_035_000, i.e. 1_130_000, so the second frame waits until 1_230_000 — the
    // price of the phase: up to 2π − E after a new grid's first frame instead of π.
    expect(nextBoundaryNs(Number.NEGATIVE_INFINITY, 1_055_000, P, E, PH)).toBe(1_230_000);
    // Released 15 µs after a phase point (within E): that point is its anchor.
    expect(nextBoundaryNs(Number.NEGATIVE_INFINITY, 1_045_000, P, E, PH)).toBe(1_130_000);
    // Exactly on a phase point.
    expect(nextBoundaryNs(Number.NEGATIVE_INFINITY, 1_030_000, P, E, PH)).toBe(1_130_000);
  });

  it('a stall starts a new grid on the phase, a small delay keeps the grid', () => {
    expect(nextBoundaryNs(1_030_000, 1_045_000, P, E, PH)).toBe(1_130_000); // 15 µs late: kept
    expect(nextBoundaryNs(1_030_000, 1_051_000, P, E, PH)).toBe(1_230_000); // 21 µs late: anchor 1_130_000
    expect(nextBoundaryNs(1_030_000, 1_540_000, P, E, PH)).toBe(1_630_000); // stall: anchor 1_530_000
  });

  it('a grant that moves the phase moves the next boundary forward onto the new grid, never back', () => {
    // Anchor 1_030_000 on the old phase (30 µs); the new phase is 10 µs → 1_210_000, not 1_110_000.
    expect(boundaryAfterNs(1_030_000, P, 10_000)).toBe(1_210_000);
    // New phase 60 µs → 1_160_000.
    expect(boundaryAfterNs(1_030_000, P, 60_000)).toBe(1_160_000);
    // A longer period with the same phase: from anchor + the new π, onto its grid.
    expect(boundaryAfterNs(1_030_000, 2 * P, PH)).toBe(1_230_000);
  });

  it('a periodic sender released within E of each boundary sends every frame on the phase grid', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: P - 1 }),
        fc.integer({ min: 0, max: 10 * P }),
        fc.array(fc.integer({ min: 0, max: E }), { minLength: 2, maxLength: 40 }),
        (phase, start, delays) => {
          let boundary = Number.NEGATIVE_INFINITY;
          let r = start;
          for (const [i, d] of delays.entries()) {
            if (i > 0) r = boundary + d;
            boundary = nextBoundaryNs(boundary, r, P, E, phase);
            expect((((boundary - phase) % P) + P) % P).toBe(0);
            // After the first frame (up to 2π − E: it lands anywhere between phase points), never
            // more than a period plus E after the frame before it …
            expect(boundary - r).toBeLessThanOrEqual(i === 0 ? 2 * P - E : P + E);
            // … nor less than π − E.
            expect(boundary - r).toBeGreaterThanOrEqual(P - E);
          }
        },
      ),
    );
  });

  it('with a phase, any j + 1 consecutive releases still span at least j·π − E', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: P - 1 }),
        fc.integer({ min: 0, max: P - 1 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 5 * P })), {
          minLength: 2,
          maxLength: 60,
        }),
        (e, phase, delays) => {
          const releases: number[] = [];
          let boundary = Number.NEGATIVE_INFINITY;
          let t = 0;
          for (const d of delays) {
            const r = Math.max(boundary, t) + d;
            releases.push(r);
            boundary = nextBoundaryNs(boundary, r, P, e, phase);
            t = r;
          }
          for (let i = 0; i < releases.length; i++)
            for (let j = i + 1; j < releases.length; j++)
              expect(releases[j]! - releases[i]!).toBeGreaterThanOrEqual((j - i) * P - e);
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
