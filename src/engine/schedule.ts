// When a sending lane's next frame may leave: both engines (js here, native in engine_tx.c) and the
// bench's pacing analysis use this one rule.
//
// Frames leave on a grid of period boundaries b, b + π, b + 2π, … A frame released at most E (the
// grant's release jitter) after its boundary keeps the grid: the next boundary is b + π, so a
// slightly late frame is not followed by a late stream, and a periodic lane keeps one frame per
// period. A frame released more than E late (a stall, or a lane idle since its boundary) starts a
// new grid at its own release. Either way any j + 1 consecutive frames span at least j·π − E, so the
// lane's arrival curve is L + r·(t + E): the controller counts E in the lane's burst
// (alloc/graph.ts, entry jitter), which is what makes the grid legal. With E = 0 every boundary
// counts from the previous actual release, i.e. frames are never closer than π.

/** Below this a release delay is not counted late, whatever E (clock reads and the send itself
 * take a few µs); the native engine's XL_LATE_RELEASE_FLOOR_NS is the same. */
export const LATE_RELEASE_FLOOR_NS = 10_000;

/**
 * How late a frame leaves: after its boundary, or after its pacing thread took its message if that
 * came later (a lane idle past its boundary is not late). `boundaryNs` −∞: the lane's first frame;
 * `handedOverNs` NaN: no application message (a heartbeat-only frame, or one that rides in it).
 */
export function releaseDelayNs(boundaryNs: number, handedOverNs: number, releasedNs: number): number {
  let due = boundaryNs;
  if (handedOverNs > due) due = handedOverNs;
  return due === Number.NEGATIVE_INFINITY ? 0 : releasedNs - due;
}

/** Whether a release delay counts in LaneCounters.lateReleases. */
export function isLateRelease(delayNs: number, releaseJitterNs: number): boolean {
  return delayNs > Math.max(releaseJitterNs, LATE_RELEASE_FLOOR_NS);
}

/** The grid point of a frame released at `releasedNs` whose boundary was `boundaryNs` (−∞: the
 * lane never released): the boundary itself if the frame was at most E late, else its release.
 * The engines keep this anchor and derive the next boundary as anchor + π with the π in force, so
 * a grant that changes π applies from the next boundary without touching the anchor. */
export function gridAnchorNs(boundaryNs: number, releasedNs: number, releaseJitterNs: number): number {
  return releasedNs - boundaryNs <= releaseJitterNs ? boundaryNs : releasedNs;
}

/** The boundary after a frame released at `releasedNs` whose own boundary was `boundaryNs`. */
export function nextBoundaryNs(
  boundaryNs: number,
  releasedNs: number,
  periodNs: number,
  releaseJitterNs: number,
): number {
  return gridAnchorNs(boundaryNs, releasedNs, releaseJitterNs) + periodNs;
}
