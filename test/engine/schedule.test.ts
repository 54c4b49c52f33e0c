import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isLateRelease,
  LATE_RELEASE_FLOOR_NS,
  nextBoundaryNs,
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
