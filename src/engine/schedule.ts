// When a sending lane's next frame may leave: both engines (js here, native in engine_tx.c) and the
// bench's pacing analysis use this one rule.
//
// Frames leave on a grid of period boundaries b, b + π, b + 2π, … Every frame must leave within E
// (the grant's release jitter) after its boundary. A frame released at most E late keeps the grid:
// the next boundary is b + π, so a slightly late frame is not followed by a late stream, and a
// periodic lane keeps one frame per period. A frame released r more than E late (a stall, a late
// wake-up, a lane idle since its boundary) moves its own boundary to r − E — the earliest grid
// point it is still within E of — and the grid goes on from there: the lane loses only the part of
// the delay beyond E, not all of it (anchoring at r itself, as the first version did, cost a
// tenth of the lanes' rate on a VM whose wake-ups are 30-70 µs late, docs/benchmarks.md). Either way
// every boundary is at least π after the one before and every release within E of its boundary,
// so any j + 1 consecutive frames span at least j·π − E: the lane's arrival curve is
// L + r·(t + E), which the controller counts (E in the lane's burst, alloc/graph.ts, entry
// jitter). With E = 0 every boundary counts from the previous actual release, i.e. frames are
// never closer than π.
//
// Phase (the grant's phaseNs): senders that share a port are given spread-out phases, so their
// frames do not queue behind each other at every boundary. A grid that is off its phase (the lane's
// first frames, a new grid after a stall, a grant that moved the phase) walks forward onto it: each
// boundary comes at most E later than anchor + π, until one lands on a phase point. Frames only
// ever move further apart, so the arrival curve holds; no gap between boundaries exceeds π + E, so
// a receiver never waits much longer than a period (a failure detector's timeout covers it, see
// fd/timeout.ts); and a periodic lane is on its phase after at most ⌈π / E⌉ frames. Regaining the
// phase after a stall costs the rest of the slot the stall began (one missed period in all),
// where a lane without a phase would slide its whole grid by the delay beyond E instead.

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

/** A lane without a phase: its grid stays wherever its frames put it. */
export const NO_PHASE = -1;

/**
 * The phase a sending lane's engine uses: the grant's, as a residue of CLOCK_MONOTONIC modulo π
 * (the agent converts it from the grant's CLOCK_REALTIME phase), or NO_PHASE. A phase needs E > 0:
 * E is also how far a boundary may move per period to reach the phase.
 */
export function effectivePhaseNs(phaseNs: number | undefined, releaseJitterNs: number | undefined): number {
  return phaseNs !== undefined && (releaseJitterNs ?? 0) > 0 ? phaseNs : NO_PHASE;
}

/** The first instant ≥ t on the lane's phase grid {phase + k·π}; t itself without a phase (or for
 * t = −∞). Integer ns in, integer ns out: exact below 2^53. */
export function onPhaseNs(t: number, periodNs: number, phaseNs: number): number {
  if (phaseNs < 0 || t === Number.NEGATIVE_INFINITY) return t;
  let back = (t - phaseNs) % periodNs;
  if (back < 0) back += periodNs;
  return back === 0 ? t : t - back + periodNs;
}

/** The boundary after grid point `anchorNs` with the π and phase in force: anchor + π, moved
 * forward toward the phase grid by at most E (`releaseJitterNs`) — onto it when it is that close. */
export function boundaryAfterNs(
  anchorNs: number,
  periodNs: number,
  phaseNs: number,
  releaseJitterNs: number,
): number {
  const t = anchorNs + periodNs;
  if (phaseNs < 0) return t;
  const ahead = onPhaseNs(t, periodNs, phaseNs) - t;
  return ahead <= releaseJitterNs ? t + ahead : t + releaseJitterNs;
}

/** The grid point of a frame released at `releasedNs` whose boundary was `boundaryNs` (−∞: the
 * lane never released): the boundary itself if the frame was at most E late, else its release − E
 * (a new grid, on which the frame is exactly E late). A lane's first frame is on time by
 * definition (releaseDelayNs): its release is its boundary. The engines keep this anchor and
 * derive the next boundary with boundaryAfterNs and the π and phase in force, so a grant that
 * changes them applies from the next boundary. */
export function gridAnchorNs(boundaryNs: number, releasedNs: number, releaseJitterNs: number): number {
  if (boundaryNs === Number.NEGATIVE_INFINITY) return releasedNs;
  return Math.max(boundaryNs, releasedNs - releaseJitterNs);
}

/** The boundary after a frame released at `releasedNs` whose own boundary was `boundaryNs`. */
export function nextBoundaryNs(
  boundaryNs: number,
  releasedNs: number,
  periodNs: number,
  releaseJitterNs: number,
  phaseNs = NO_PHASE,
): number {
  return boundaryAfterNs(
    gridAnchorNs(boundaryNs, releasedNs, releaseJitterNs),
    periodNs,
    phaseNs,
    releaseJitterNs,
  );
}

/** A grant's phase (CLOCK_REALTIME ns mod π) as the residue of CLOCK_MONOTONIC the engines pace
 * by, given this host's CLOCK_REALTIME − CLOCK_MONOTONIC (clock.ts measureRealtimeOffsetNs).
 * BigInt: realtime ns are past 2^53. */
export function monotonicPhaseNs(
  realtimePhaseNs: number,
  periodNs: number,
  realtimeMinusMonotonicNs: bigint,
): number {
  const p = BigInt(periodNs);
  const r = (BigInt(realtimePhaseNs) - realtimeMinusMonotonicNs) % p;
  return Number(r < 0n ? r + p : r);
}
