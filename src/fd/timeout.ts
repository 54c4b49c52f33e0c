// X-FD's detection timeout, derived from the grant instead of guessed (FiDe, ATC 2025):
//   TO = π_min + λ_min + 2·δ,  δ = λ_max − λ_min   (for one receiver of the lane),
// raised to π_min + 2·E + δ when that is larger: with the grant's release jitter E, the sender's
// boundaries may come up to π + E apart (walking onto its phase, engine/schedule.ts) and each frame
// may leave up to E after its boundary, so two arrivals are at most π + 2E + δ apart. FiDe's
// margin λ_min + δ covers 2E whenever the window is not tiny; the max keeps it true when it is.
// And the rule for moving it when the grant changes: a larger TO applies at once (more lenient is
// always safe), a smaller one only after a hold, because the sender and the network obey the new
// grant only once every host has applied it, and a receiver that tightens first would suspect a
// member that merely follows the old contract a little longer.
import type { Grant } from '../alloc/types.js';

/** FiDe's deterministic failure-detection timeout for `receiver` of `grant` (covering the sender's
 * release jitter E); undefined if it is not one. */
export function failureTimeoutNs(grant: Grant, receiver: string): number | undefined {
  const r = grant.receivers.find((x) => x.host === receiver);
  if (!r) return undefined;
  const delta = r.lambdaMaxNs - r.lambdaMinNs;
  const margin = Math.max(r.lambdaMinNs + delta, 2 * (grant.releaseJitterNs ?? 0));
  return grant.minPeriodNs + delta + margin;
}

/** The TO a receiver uses now, and a smaller target waiting for its hold to pass. */
export interface TimeoutSchedule {
  /** In force now. */
  effectiveNs: number;
  /** What the current grant says. */
  targetNs: number;
  /** When `targetNs` replaces a larger `effectiveNs` (undefined: nothing pending). */
  applyAtNs: number | undefined;
}

/** The schedule after the grant says `targetNs` at `nowNs`. */
export function retarget(
  s: TimeoutSchedule | undefined,
  targetNs: number,
  nowNs: number,
  holdNs: number,
): TimeoutSchedule {
  const current = s ? settle(s, nowNs) : undefined;
  if (!current || targetNs >= current.effectiveNs || holdNs <= 0) {
    return { effectiveNs: targetNs, targetNs, applyAtNs: undefined };
  }
  // Same smaller target again (another field of the grant moved): keep the hold already running.
  if (current.targetNs === targetNs && current.applyAtNs !== undefined) return current;
  return { effectiveNs: current.effectiveNs, targetNs, applyAtNs: nowNs + holdNs };
}

/** The schedule at `nowNs`: a pending smaller target whose hold has passed is now in force. */
export function settle(s: TimeoutSchedule, nowNs: number): TimeoutSchedule {
  if (s.applyAtNs === undefined || nowNs < s.applyAtNs) return s;
  return { effectiveNs: s.targetNs, targetNs: s.targetNs, applyAtNs: undefined };
}
