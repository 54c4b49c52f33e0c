// Pure arithmetic of `xlane bench engine`: latency summaries, the pacing analysis of a periodic
// lane's received frames, and the ratios between engines. No I/O, so it is unit-tested directly.
import { NO_PHASE, nextBoundaryNs } from '../engine/schedule.js';

/** p50 / p99 / p99.9 / max of one latency distribution, in µs (3 decimals). */
export interface LatencySummaryUs {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Nearest-rank percentile of an ascending array: the smallest sample with at least p% of the
 * samples at or below it. */
export function nearestRank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  // The epsilon keeps float error from pushing an exact rank (99.9% of 1000 = 999) up by one.
  const rank = Math.ceil((p / 100) * sorted.length - 1e-9) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** Summary in µs of the first `count` samples (ns). The input is not reordered. An empty input gives
 * NaN fields, which JSON prints as null: "no data" must never read as "0 µs". */
export function summarizeNs(samplesNs: Float64Array, count = samplesNs.length): LatencySummaryUs {
  const sorted = samplesNs.slice(0, count).sort();
  const us = (v: number) => (Number.isNaN(v) ? Number.NaN : round3(v / 1000));
  return {
    p50: us(nearestRank(sorted, 50)),
    p99: us(nearestRank(sorted, 99)),
    p999: us(nearestRank(sorted, 99.9)),
    max: us(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
  };
}

export interface PacingAnalysis {
  /** Frames received. */
  frames: number;
  /** Release error (ns) of every frame whose predecessor was also received; `errors` counts them. */
  errorsNs: Float64Array;
  errors: number;
  /** Slots of an ideal π-periodic sender, over the same span, that carried no frame. */
  missedPeriods: number;
  /** Frames that never arrived (sequence gaps); their slots cannot be judged. */
  lostFrames: number;
  /** With the sender's refill times: the error of only those frames whose lane had a message
   * waiting at the boundary, i.e. the engine's own lateness, not the application's. */
  engineErrorsNs: Float64Array;
  engineErrors: number;
  /** Frames whose lane was empty at the boundary (the application refilled it only later). */
  appLateFrames: number;
  /** Whole periods the engine lost on frames that were waiting: ⌊error / π⌋ summed. */
  engineMissedPeriods: number;
}

/** When the sender's application handed over the message a frame carries, and the message before. */
export interface RefillTimes {
  refillNs: Float64Array;
  prevRefillNs: Float64Array;
}

/**
 * Each frame is judged against its period boundary, rebuilt from the releases with the engines' own
 * rule (engine/schedule.ts): the first frame, and the first after a lost one, starts a new grid;
 * a frame released at most E (`releaseJitterNs`) after its boundary keeps the grid (next boundary
 * b + π), a later one starts a new grid E before its release. With E = 0 every boundary counts from
 * the previous release. A frame's error is how much later than its boundary it left. Lateness beyond E
 * adds up — frames 1.5 π apart miss no single boundary yet carry only two frames per three slots —
 * so missed periods are counted against an ideal sender instead: the slots between the first and
 * the last release, minus the frames released in them (received or lost). `seqs`/`sentNs` are in
 * arrival order.
 */
export interface PacingOptions {
  /** E of the sending lane's grant; default 0. */
  releaseJitterNs?: number;
  /** The sending lane's phase as its engine uses it (effectivePhaseNs: a monotonic residue, or
   * NO_PHASE, the default): the grid walks onto it. */
  phaseNs?: number;
  /** The sender's refill times (application-fed lanes): splits the engine's lateness from the
   * application's. */
  refills?: RefillTimes;
}

export function analysePacing(
  seqs: Uint32Array,
  sentNs: Float64Array,
  count: number,
  periodNs: number,
  opts: PacingOptions = {},
): PacingAnalysis {
  const { refills } = opts;
  const jitterNs = opts.releaseJitterNs ?? 0;
  const phaseNs = opts.phaseNs ?? NO_PHASE;
  const errorsNs = new Float64Array(Math.max(0, count - 1));
  const engineErrorsNs = new Float64Array(refills ? Math.max(0, count - 1) : 0);
  let errors = 0;
  let engineErrors = 0;
  let appLateFrames = 0;
  let engineMissedPeriods = 0;
  let lostFrames = 0;
  // The boundary of frame i − 1; −∞ for the first frame, which starts the grid.
  let boundary = Number.NEGATIVE_INFINITY;
  for (let i = 1; i < count; i++) {
    const gap = (seqs[i]! - seqs[i - 1]!) >>> 0;
    if (gap !== 1) {
      // Reordered or duplicate frames cannot happen on one bridge; a forward gap is loss. The lost
      // frames' releases are unknown: the next frame starts a new grid.
      if (gap > 1 && gap < 0x80000000) lostFrames += gap - 1;
      boundary = Number.NEGATIVE_INFINITY;
      continue;
    }
    const due = nextBoundaryNs(boundary, sentNs[i - 1]!, periodNs, jitterNs, phaseNs);
    boundary = due;
    // Clamped at 0: the engine never releases before the boundary, and a negative value could
    // only be clock-read noise.
    const error = Math.max(0, sentNs[i]! - due);
    errorsNs[errors++] = error;
    if (!refills) continue;
    // The message this frame carries was the first one handed over after the previous release
    // (the one before it is older than that release) and came after the boundary: nothing was
    // waiting when the boundary passed, so the delay is the application's. In every other case a
    // message was waiting (perhaps replaced by a newer one since), and the delay is the engine's.
    if (refills.prevRefillNs[i]! <= sentNs[i - 1]! && refills.refillNs[i]! > due) {
      appLateFrames++;
      continue;
    }
    engineErrorsNs[engineErrors++] = error;
    engineMissedPeriods += Math.floor(error / periodNs);
  }
  const slots = count > 0 ? Math.floor((sentNs[count - 1]! - sentNs[0]!) / periodNs) + 1 : 0;
  const missedPeriods = Math.max(0, slots - count - lostFrames);
  return {
    frames: count,
    errorsNs,
    errors,
    missedPeriods,
    lostFrames,
    engineErrorsNs,
    engineErrors,
    appLateFrames,
    engineMissedPeriods,
  };
}

export interface BenchRatios {
  /** js or native over its reference (dgram for js, the C floor for native). */
  p50: number;
  p999: number;
  /** Only with a floor reference (native): how many times slower plain dgram is at p50. */
  dgramOverNativeP50?: number;
}

const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? round3(a / b) : Number.NaN);

/** The js engine is compared with plain dgram; the native engine with the C floor (issue 4). */
export function benchRatios(
  engine: LatencySummaryUs,
  dgram: LatencySummaryUs,
  floor?: LatencySummaryUs,
): BenchRatios {
  if (!floor) return { p50: ratio(engine.p50, dgram.p50), p999: ratio(engine.p999, dgram.p999) };
  return {
    p50: ratio(engine.p50, floor.p50),
    p999: ratio(engine.p999, floor.p999),
    dgramOverNativeP50: ratio(dgram.p50, engine.p50),
  };
}
