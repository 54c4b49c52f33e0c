// Pure arithmetic of `xlane bench interference`: one lane's recorded frames (arrival time and
// one-way latency, ns) judged against its promised window [λ_min, λ_max], reduced to what the
// bench prints and the report draws. No I/O, so it is unit-tested directly.
import { nearestRank } from './engine-stats.js';
import type { LaneLatencyDetail, OutlierCauses } from './interference-types.js';

export interface LaneWindow {
  lane: string;
  name: string;
  from: string;
  to: string;
  periodNs: number;
  payloadBytes: number;
  lambdaMinNs: number;
  lambdaMaxNs: number;
}

export interface LaneSamples {
  /** Arrival times (ns, shared clock) and latencies (ns), in arrival order; `count` are valid. */
  receivedNs: Float64Array;
  latencyNs: Float64Array;
  /** Sender's stamp → the receiving kernel's stamp (ns); 0 where unknown. Absent: all unknown. */
  kernelLatencyNs?: Float64Array;
  count: number;
  lost: number;
  /** Arrival time the run's clock starts at (tSec = 0). */
  startNs: number;
}

const CDF_POINTS = 300;
const SERIES_WINDOW_NS = 100e6;
/** Outliers kept with their times per lane and run; `outliers` counts them all. */
export const FIRST_OUTLIERS = 100;

const r3 = (v: number) => Math.round(v * 1000) / 1000;
const us = (ns: number) => (Number.isNaN(ns) ? Number.NaN : r3(ns / 1000));
/** a ÷ b to two decimals; NaN without messages or without a positive divisor. */
const ratio = (a: number, b: number, n: number) =>
  n > 0 && b > 0 ? Math.round((a / b) * 100) / 100 : Number.NaN;

export function analyseLane(w: LaneWindow, s: LaneSamples): LaneLatencyDetail {
  const n = s.count;
  const sorted = s.latencyNs.slice(0, n).sort();
  let within = 0;
  const causes: OutlierCauses = { early: 0, late: 0, lateInReceiver: 0, lateOnArrival: 0, lateUnknown: 0 };
  const firstOutliers: LaneLatencyDetail['firstOutliers'] = [];
  for (let i = 0; i < n; i++) {
    const l = s.latencyNs[i]!;
    if (l >= w.lambdaMinNs && l <= w.lambdaMaxNs) {
      within++;
      continue;
    }
    if (l < w.lambdaMinNs) causes.early++;
    else {
      // Where the time went: a frame the receiving kernel had within λ_max was late only in the
      // receiving host (softirq → engine → application); one it had later was already late on
      // arrival (the sender's host or the network).
      causes.late++;
      const k = s.kernelLatencyNs?.[i] ?? 0;
      if (!(k > 0)) causes.lateUnknown++;
      else if (k <= w.lambdaMaxNs) causes.lateInReceiver++;
      else causes.lateOnArrival++;
    }
    if (firstOutliers.length < FIRST_OUTLIERS)
      firstOutliers.push({ tSec: r3((s.receivedNs[i]! - s.startNs) / 1e9), latencyUs: us(l) });
  }
  const p999 = nearestRank(sorted, 99.9);
  const p9999 = nearestRank(sorted, 99.99);
  return {
    lane: w.lane,
    name: w.name,
    from: w.from,
    to: w.to,
    periodNs: w.periodNs,
    payloadBytes: w.payloadBytes,
    lambdaMinUs: us(w.lambdaMinNs),
    boundUs: us(w.lambdaMaxNs),
    p50Us: us(nearestRank(sorted, 50)),
    p99Us: us(nearestRank(sorted, 99)),
    p999Us: us(p999),
    p9999Us: us(p9999),
    maxUs: us(n > 0 ? sorted[n - 1]! : Number.NaN),
    // Six decimals: the target (99.99 %) must be readable from the figure.
    withinBound: n > 0 ? Math.round((within / n) * 1e6) / 1e6 : Number.NaN,
    messages: n,
    lost: s.lost,
    sendRate: sendRate(s, w.periodNs),
    outliers: n - within,
    outlierCauses: causes,
    tightness: ratio(w.lambdaMaxNs, p999, n),
    // No window keeps 99.99 % of these messages below p99.99, so no promise could have been
    // tighter than this and still kept the within-bound target on this run.
    tightnessFloor: ratio(p9999, p999, n),
    cdf: logCdf(sorted),
    series: windows(s),
    firstOutliers,
  };
}

/** LaneLatencySummary.sendRate, to four decimals. The sender's stamp is arrival − latency; the
 * earliest and latest are taken, not the first and last in arrival order. */
export function sendRate(s: LaneSamples, periodNs: number): number {
  const n = s.count;
  if (n < 2 || !(periodNs > 0)) return Number.NaN;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const sent = s.receivedNs[i]! - s.latencyNs[i]!;
    if (sent < first) first = sent;
    if (sent > last) last = sent;
  }
  const periods = Math.floor((last - first) / periodNs) + 1;
  return Math.round(((n + s.lost) / periods) * 1e4) / 1e4;
}

/** Empirical CDF sampled at ≤ CDF_POINTS latencies spaced evenly on a log axis between the
 * smallest and the largest sample; the last point is always (max, 1). */
export function logCdf(sorted: Float64Array): { latencyUs: number; fraction: number }[] {
  const n = sorted.length;
  if (n === 0) return [];
  const lo = Math.max(sorted[0]!, 1);
  const hi = Math.max(sorted[n - 1]!, lo);
  const out: { latencyUs: number; fraction: number }[] = [];
  let i = 0;
  const steps = hi > lo ? CDF_POINTS - 1 : 0;
  for (let k = 0; k <= steps; k++) {
    const x = steps === 0 ? hi : lo * (hi / lo) ** (k / steps);
    while (i < n && sorted[i]! <= x * (1 + 1e-12)) i++;
    const f = i / n;
    if (out.length > 0 && out[out.length - 1]!.fraction === f && k !== steps) continue;
    out.push({ latencyUs: us(x), fraction: f });
  }
  return out;
}

/** p50 / p99 / max per SERIES_WINDOW_NS of arrival time. */
function windows(s: LaneSamples): LaneLatencyDetail['series'] {
  const out: LaneLatencyDetail['series'] = [];
  let start = 0;
  while (start < s.count) {
    const wEnd =
      s.startNs + (Math.floor((s.receivedNs[start]! - s.startNs) / SERIES_WINDOW_NS) + 1) * SERIES_WINDOW_NS;
    let end = start;
    while (end < s.count && s.receivedNs[end]! < wEnd) end++;
    const lat = s.latencyNs.slice(start, end).sort();
    out.push({
      tSec: r3((wEnd - SERIES_WINDOW_NS / 2 - s.startNs) / 1e9),
      p50Us: us(nearestRank(lat, 50)),
      p99Us: us(nearestRank(lat, 99)),
      maxUs: us(lat[lat.length - 1]!),
      messages: end - start,
    });
    start = end;
  }
  return out;
}
