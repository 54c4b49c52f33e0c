// From the one-way latencies of the calibration lane (a lane from the host to itself, so every
// frame crossed the host's send stack and its receive stack once, and no wire) to the bounds the
// allocator adds at both ends of every window: pure arithmetic, no I/O.
//
// Lower bound: the observed minimum × minFactor, half of it by default. The real path does strictly
// more work than loopback (the NIC driver, DMA, the interrupt), so a host should not beat the
// minimum it showed here. But the minimum itself moves: on the 2026-11-27 VM three identical
// testbed namespaces measured 4.34–5.82 µs in one run, and a frame between two of them arrived
// 0.25 µs below the λ_min built from their minimums. An early frame breaks the window as surely as
// a late one, while a lower λ_min costs next to nothing (δ grows by a few µs against λ_max's
// hundreds), so the default keeps a wide margin; minFactor 1 is the observed minimum itself.
//
// Upper bound: max(observed max, quantile × safetyFactor), p99.99 × 1.5 by default.
// - Not below the observed max: a guarantee must not promise less than the calibration itself saw.
//   `keepObservedMax: false` drops that floor, for an operator who wants a quantile promise (about
//   1 − quantile of the frames may exceed it) rather than one set by the worst stall of the run.
// - Not the observed max alone: two seconds (20 000 frames at 100 µs) say little about the tail a
//   lane meets in hours, and the real path adds driver and interrupt work loopback skips; the
//   factor is that margin. When one outlier towers over the quantile it decides the bound, and the
//   figures (maxFrom) show it, so an operator sees the stall and can tune the host and measure again.
//
// Split: the allocator only ever adds a sender's send bound to a receiver's receive bound, and
// loopback measures exactly that sum for the host itself. Half of it goes to each side by default:
// then the host's own pair adds up to what was measured, and between two hosts calibrated alike (same
// kernel, same engine) the sum is their average total. It is no bound if hosts differ and one is slow
// exactly where the other is fast; `sendShare` = 1 on one and 0 on the other, or declared bounds in
// the topology file, are the answer there.
import { XlaneError } from '../../errors.js';
import type { LatencyRange } from '../../topology/spec.js';

export interface BoundsPolicy {
  /** Quantile the upper bound starts from, (0, 1]. */
  quantile: number;
  /** Multiplies that quantile, ≥ 1. */
  safetyFactor: number;
  /** Share of the total that goes to the send side, [0, 1]; the rest to the receive side. */
  sendShare: number;
  /** Never below the observed max (default true); false: quantile × safetyFactor alone. */
  keepObservedMax: boolean;
  /** Multiplies the observed minimum into the lower bound, (0, 1]. */
  minFactor: number;
}

export const DEFAULT_BOUNDS_POLICY: Readonly<BoundsPolicy> = {
  quantile: 0.9999,
  safetyFactor: 1.5,
  sendShare: 0.5,
  keepObservedMax: true,
  minFactor: 0.5,
};

export interface LatencySummary {
  /** Samples used; negative or non-finite ones (a clock bug, never a latency) are `discarded`. */
  samples: number;
  discarded: number;
  minNs: number;
  p50Ns: number;
  p99Ns: number;
  quantileNs: number;
  maxNs: number;
}

export interface DerivedHostBounds {
  summary: LatencySummary;
  policy: BoundsPolicy;
  /** The host's send + receive bounds together, then split. */
  total: LatencyRange;
  /** What set total.maxNs: the quantile × factor, or the observed max when that was larger. */
  maxFrom: 'quantile' | 'observedMax';
  send: LatencyRange;
  recv: LatencyRange;
}

/** Summary and bounds of the first `count` latencies (ns). Throws XL_ERR_CALIBRATION with no usable
 * sample, XL_ERR_VALIDATION for a policy out of range. */
export function deriveHostBounds(
  latenciesNs: ArrayLike<number>,
  count: number = latenciesNs.length,
  policy: Partial<BoundsPolicy> = {},
): DerivedHostBounds {
  const p = checkPolicy({ ...DEFAULT_BOUNDS_POLICY, ...policy });
  const summary = summarize(latenciesNs, Math.min(count, latenciesNs.length), p.quantile);
  const scaled = summary.quantileNs * p.safetyFactor;
  const maxFrom = scaled >= summary.maxNs || !p.keepObservedMax ? 'quantile' : 'observedMax';
  const upper = p.keepObservedMax ? Math.max(scaled, summary.maxNs) : scaled;
  // Never below the minimum: a window needs λ_max ≥ λ_min.
  const total = {
    minNs: Math.floor(summary.minNs * p.minFactor),
    maxNs: Math.ceil(Math.max(upper, summary.minNs)),
  };
  // Floors on the minimum and ceilings on the maximum: each pair adds up to no more than the
  // derived minimum and to no less than the derived maximum.
  const send = {
    minNs: Math.floor(total.minNs * p.sendShare),
    maxNs: Math.ceil(total.maxNs * p.sendShare),
  };
  const recv = {
    minNs: Math.floor(total.minNs * (1 - p.sendShare)),
    maxNs: Math.ceil(total.maxNs * (1 - p.sendShare)),
  };
  return { summary, policy: p, total, maxFrom, send, recv };
}

/** Nearest-rank quantile of sorted values: the smallest value with at least q of them at or below. */
export function nearestRank(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  const i = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return sorted[i]!;
}

function summarize(values: ArrayLike<number>, count: number, q: number): LatencySummary {
  const sorted = new Float64Array(count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (Number.isFinite(v) && v >= 0) sorted[n++] = v;
  }
  if (n === 0) {
    throw new XlaneError(
      'XL_ERR_CALIBRATION',
      count === 0
        ? 'no calibration frame came back: nothing to derive bounds from'
        : `none of ${count} calibration samples is a valid latency`,
      { samples: count },
    );
  }
  const used = sorted.subarray(0, n).sort();
  return {
    samples: n,
    discarded: count - n,
    minNs: used[0]!,
    p50Ns: nearestRank(used, 0.5),
    p99Ns: nearestRank(used, 0.99),
    quantileNs: nearestRank(used, q),
    maxNs: used[n - 1]!,
  };
}

/** Throws XL_ERR_VALIDATION naming every field out of range. */
export function checkPolicy(p: BoundsPolicy): BoundsPolicy {
  const errors: string[] = [];
  if (!(p.quantile > 0 && p.quantile <= 1)) errors.push(`quantile must be in (0, 1], got ${p.quantile}`);
  if (!(p.safetyFactor >= 1 && Number.isFinite(p.safetyFactor)))
    errors.push(`safetyFactor must be ≥ 1, got ${p.safetyFactor}`);
  if (!(p.sendShare >= 0 && p.sendShare <= 1)) errors.push(`sendShare must be in [0, 1], got ${p.sendShare}`);
  if (typeof p.keepObservedMax !== 'boolean') errors.push(`keepObservedMax must be true or false`);
  if (!(p.minFactor > 0 && p.minFactor <= 1)) errors.push(`minFactor must be in (0, 1], got ${p.minFactor}`);
  if (errors.length > 0) {
    throw new XlaneError('XL_ERR_VALIDATION', `host bounds policy: ${errors.join('; ')}`, {
      errors: errors.map((message) => ({ path: 'policy', message })),
    });
  }
  return p;
}
