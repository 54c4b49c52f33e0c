// The φ-accrual failure detector (Hayashibara et al. 2004) exactly as Akka implements it
// (akka.remote.PhiAccrualFailureDetector), for the benchmark to compare X-FD against:
// - a sliding window of the last `maxSampleSize` inter-arrival times, seeded on the first heartbeat
//   with firstHeartbeatEstimate ± ¼ of it;
// - a normal distribution with that window's mean + acceptableHeartbeatPause, and its standard
//   deviation but at least minStdDeviation;
// - φ(t) = −log10(1 − F(t − last)), with Akka's logistic approximation of the normal CDF:
//   1 − F(Δ) = e / (1 + e), e = exp(−y·(1.5976 + 0.070566·y²)), y = (Δ − mean) / stdDev;
// - an interval joins the window only if the heartbeat came while φ was under the threshold
//   (a long pause must not teach the detector that long pauses are normal).
// Pure: times are passed in. suspectAtNs() solves φ = threshold for Δ in closed form (a cubic in y),
// so a trace is evaluated at the exact crossing, with no polling delay.
import { XlaneError } from '../errors.js';
import type { HeartbeatDetector } from './detector.js';

const A = 1.5976;
const B = 0.070566;

export interface PhiAccrualOptions {
  /** Suspect when φ ≥ this (Akka cluster: 8). */
  threshold?: number;
  /** Inter-arrival times kept (Akka: 1000). */
  maxSampleSize?: number;
  /** Floor of the standard deviation (Akka: 100 ms). */
  minStdDeviationNs?: number;
  /** Added to the mean: pauses this long are tolerated (Akka cluster: 3 s). */
  acceptableHeartbeatPauseNs?: number;
  /** Assumed interval before any is measured (Akka: 1 s). */
  firstHeartbeatEstimateNs?: number;
}

/** φ after `deltaNs` without a heartbeat, for a normal distribution (mean, stdDev) of intervals. */
export function phiOf(deltaNs: number, meanNs: number, stdDevNs: number): number {
  const y = (deltaNs - meanNs) / stdDevNs;
  const z = y * (A + B * y * y);
  // −log10(e/(1+e)) = log10(1 + exp(z)), written so neither branch overflows (Akka's value exactly,
  // where Akka's own form is finite).
  return (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) / Math.LN10;
}

/** The Δ at which φ reaches `threshold` (> 0): the root of B·y³ + A·y = ln((1 − p)/p), p = 10^−threshold. */
export function phiCrossingNs(threshold: number, meanNs: number, stdDevNs: number): number {
  if (!(threshold > 0))
    throw new XlaneError('XL_ERR_VALIDATION', `φ threshold must be > 0, got ${threshold}`);
  const p = 10 ** -threshold;
  const l = Math.log1p(-p) + threshold * Math.LN10; // ln(1 − p) − ln p, exact for large thresholds
  // Depressed cubic y³ + P·y + Q = 0 with P > 0: one real root (Cardano); u·v = −P/3 avoids cancellation.
  const P = A / B;
  const Q = -l / B;
  const half = -Q / 2;
  const root = Math.sqrt(half * half + (P / 3) ** 3);
  const u = Math.cbrt(half >= 0 ? half + root : half - root);
  const y = u - P / (3 * u);
  return meanNs + y * stdDevNs;
}

export class PhiAccrualDetector implements HeartbeatDetector {
  readonly threshold: number;
  readonly maxSampleSize: number;
  readonly minStdDeviationNs: number;
  readonly acceptableHeartbeatPauseNs: number;
  readonly firstHeartbeatEstimateNs: number;
  private readonly ring: Float64Array;
  private head = 0;
  private count = 0;
  private sum = 0;
  private sumSq = 0;
  private pushes = 0;
  private last: number | undefined;

  constructor(opts: PhiAccrualOptions = {}) {
    this.threshold = opts.threshold ?? 8;
    this.maxSampleSize = opts.maxSampleSize ?? 1000;
    this.minStdDeviationNs = opts.minStdDeviationNs ?? 100e6;
    this.acceptableHeartbeatPauseNs = opts.acceptableHeartbeatPauseNs ?? 3e9;
    this.firstHeartbeatEstimateNs = opts.firstHeartbeatEstimateNs ?? 1e9;
    const bad = (what: string) => new XlaneError('XL_ERR_VALIDATION', `φ-accrual: ${what}`, { ...opts });
    if (!(this.threshold > 0)) throw bad('threshold must be > 0');
    if (!(Number.isInteger(this.maxSampleSize) && this.maxSampleSize >= 1))
      throw bad('maxSampleSize must be ≥ 1');
    if (!(this.minStdDeviationNs > 0)) throw bad('minStdDeviationNs must be > 0');
    if (!(this.acceptableHeartbeatPauseNs >= 0)) throw bad('acceptableHeartbeatPauseNs must be ≥ 0');
    if (!(this.firstHeartbeatEstimateNs > 0)) throw bad('firstHeartbeatEstimateNs must be > 0');
    this.ring = new Float64Array(this.maxSampleSize);
  }

  get lastHeartbeatNs(): number | undefined {
    return this.last;
  }

  heartbeat(nowNs: number): void {
    if (this.last === undefined) {
      const sd = this.firstHeartbeatEstimateNs / 4;
      this.push(this.firstHeartbeatEstimateNs - sd);
      this.push(this.firstHeartbeatEstimateNs + sd);
    } else if (this.isAvailable(nowNs)) {
      this.push(nowNs - this.last);
    }
    this.last = nowNs;
  }

  /** φ at `nowNs` (0 before the first heartbeat, as in Akka). */
  phi(nowNs: number): number {
    if (this.last === undefined) return 0;
    return phiOf(nowNs - this.last, this.meanNs + this.acceptableHeartbeatPauseNs, this.stdDevNs);
  }

  isAvailable(nowNs: number): boolean {
    return this.phi(nowNs) < this.threshold;
  }

  /** When φ reaches `threshold` (default: the detector's) if no heartbeat comes. */
  suspectAtNs(threshold = this.threshold): number {
    if (this.last === undefined) return Number.POSITIVE_INFINITY;
    return this.last + phiCrossingNs(threshold, this.meanNs + this.acceptableHeartbeatPauseNs, this.stdDevNs);
  }

  /** Mean of the window's intervals (without the acceptable pause). */
  get meanNs(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /** The standard deviation φ uses: the window's, floored at minStdDeviation. */
  get stdDevNs(): number {
    const mean = this.meanNs;
    const variance = this.count === 0 ? 0 : Math.max(0, this.sumSq / this.count - mean * mean);
    return Math.max(Math.sqrt(variance), this.minStdDeviationNs);
  }

  get samples(): number {
    return this.count;
  }

  private push(interval: number): void {
    if (this.count === this.maxSampleSize) {
      const old = this.ring[this.head]!;
      this.sum -= old;
      this.sumSq -= old * old;
    } else {
      this.count++;
    }
    this.ring[this.head] = interval;
    this.sum += interval;
    this.sumSq += interval * interval;
    this.head = (this.head + 1) % this.maxSampleSize;
    // Running sums drift by rounding as values come and go: re-add them once per window turn.
    if (++this.pushes % this.maxSampleSize === 0) this.resum();
  }

  private resum(): void {
    let s = 0;
    let sq = 0;
    for (let i = 0; i < this.count; i++) {
      const v = this.ring[i]!;
      s += v;
      sq += v * v;
    }
    this.sum = s;
    this.sumSq = sq;
  }
}
