// The network-calculus formulas of docs/allocation.md as small pure functions, so every term can be checked
// by hand. The allocator's hot loop inlines the same arithmetic over typed arrays.

/** Per-hop delay bound of a strict-priority, non-preemptive egress port of rate `rateBps` that
 * serves bursts summing to `burstBytesSum`: D = T + Σb/C with T = one best-effort frame time. */
export function hopDelayNs(rateBps: number, maxFrameBytes: number, burstBytesSum: number): number {
  return ((maxFrameBytes + burstBytesSum) * 8e9) / rateBps;
}

/** Long-term rate of a lane in bit/s: one wire frame of `wire` bytes every `periodNs`. */
export function laneRateBps(wire: number, periodNs: number): number {
  return (wire * 8e9) / periodNs;
}

/** Burst of a lane at a port, b = L + r·J, with r in bytes/ns and J the jitter accumulated upstream. */
export function burstBytes(wire: number, periodNs: number, upstreamJitterNs: number): number {
  return wire + (wire / periodNs) * upstreamJitterNs;
}

/** Backlog bound Σb + Σr·T of an egress port (bytes), r in bytes/ns. */
export function backlogBytes(burstSum: number, rateSumBytesPerNs: number, blockingNs: number): number {
  return burstSum + rateSumBytesPerNs * blockingNs;
}

export interface WindowPolicy {
  headroom: number;
  quantumNs: number;
}

/** The λ_max a grant promises for a computed bound: headroom, rounded up to the quantum, capped at
 * the deadline. Returns NaN when the bound itself is already past the deadline (infeasible). */
export function grantedLambdaMax(boundNs: number, policy: WindowPolicy, deadlineNs?: number): number {
  const padded = Math.ceil((boundNs * (1 + policy.headroom)) / policy.quantumNs) * policy.quantumNs;
  if (deadlineNs === undefined || !Number.isFinite(deadlineNs)) return padded;
  if (boundNs > deadlineNs) return Number.NaN;
  return Math.min(padded, deadlineNs);
}

/** Hysteresis on a granted λ_max: raise as soon as the bound passes it (anything else is unsafe),
 * lower only once it is more than `headroom` above what we would grant now (avoids churn). */
export function nextGrantedLambdaMax(
  currentGranted: number,
  boundNs: number,
  policy: WindowPolicy,
  deadlineNs?: number,
): number {
  const fresh = grantedLambdaMax(boundNs, policy, deadlineNs);
  if (boundNs > currentGranted) return fresh;
  if (currentGranted > fresh * (1 + policy.headroom)) return fresh;
  return currentGranted;
}
