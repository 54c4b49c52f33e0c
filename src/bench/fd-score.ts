// `xlane bench fd`: a detector's suspicions judged against the crashes the bench injected. Pure, and
// the same rules for every detector (X-FD's engine watchdog, φ-accrual, the fixed timeout over plain
// dgram), so their figures compare:
// - a suspicion of the crashed member that starts between its crash and its restart is that
//   observer's DETECTION of the injection (the first one; later ones in the same injection are
//   repeats: a straggler frame revived the member for a moment);
// - any other suspicion is a FALSE POSITIVE: the member was alive (it had not been killed, or it
//   had already been restarted);
// - a suspicion that started before the crash and was still running at it is a false positive too,
//   and that injection has no detection time for that observer (already suspected);
// - an injection × observer with neither is MISSED.
// Only suspicions that start inside the observation window count.
import { nearestRank } from './engine-stats.js';

export interface Injection {
  index: number;
  victim: string;
  /** Taken right before SIGKILL, and right before the restarted member was told to send again. */
  crashNs: number;
  reviveNs: number;
  /** When the kill() call had returned: crashNs..killedNs brackets the crash. */
  killedNs?: number;
}

export interface ObservedSuspicion {
  observer: string;
  member: string;
  startNs: number;
  /** Infinity: still running when the observation ended. */
  endNs: number;
  lastArrivalNs: number;
  /** X-FD only: the send stamps of the heartbeat the silence followed and of the frame that ended
   * it, and that frame's arrival (fd-causes.ts); NaN or absent where unknown. */
  lastSentNs?: number;
  endSentNs?: number;
  endArrivalNs?: number;
}

export interface Detection {
  injection: number;
  observer: string;
  member: string;
  /** Suspicion start − crash. */
  detectionNs: number;
  /** Suspicion start − the last heartbeat's arrival (for X-FD: TO + the engine's slack). */
  sinceLastArrivalNs: number;
}

export interface InjectionPair {
  injection: number;
  observer: string;
}

export interface DetectorScore {
  detections: Detection[];
  falsePositives: number;
  /** The first false positives (up to the tally's cap), for the run file. */
  falsePositiveSample: ObservedSuspicion[];
  missed: InjectionPair[];
  alreadySuspected: InjectionPair[];
  repeats: number;
}

export interface ScoreWindow {
  startNs: number;
  /** Infinity until the observation ends. */
  endNs: number;
}

/** The judgement, fed in batches as the run goes (a long run has millions of baseline suspicions:
 * only the count and a sample of false positives are kept). Exact as long as every batch holds
 * suspicions that started before the crash of any injection not yet passed in. */
export class DetectorTally {
  readonly detections: Detection[] = [];
  readonly falsePositiveSample: ObservedSuspicion[] = [];
  falsePositives = 0;
  repeats = 0;
  private readonly detected = new Set<string>();
  private readonly already = new Set<string>();

  constructor(
    private readonly window: ScoreWindow,
    private readonly sampleCap = 1000,
    /** Sees every false positive, not only the sample (fd-causes.ts); `spansCrash`: it was still
     * running when its member crashed, so what ended it came from the member's next life. */
    private readonly onFalsePositive?: (s: ObservedSuspicion, spansCrash: boolean) => void,
  ) {}

  add(batch: readonly ObservedSuspicion[], injections: readonly Injection[]): void {
    const w = this.window;
    const sorted = batch
      .filter((s) => s.startNs >= w.startNs && s.startNs < w.endNs)
      .sort((a, b) => a.startNs - b.startNs);
    for (const s of sorted) {
      const during = injections.find(
        (i) => i.victim === s.member && s.startNs >= i.crashNs && s.startNs < i.reviveNs,
      );
      if (during) {
        const k = pairKey(during.index, s.observer);
        if (this.detected.has(k) || this.already.has(k)) {
          this.repeats++;
          continue;
        }
        this.detected.add(k);
        this.detections.push({
          injection: during.index,
          observer: s.observer,
          member: s.member,
          detectionNs: s.startNs - during.crashNs,
          sinceLastArrivalNs: s.startNs - s.lastArrivalNs,
        });
        continue;
      }
      this.falsePositives++;
      if (this.falsePositiveSample.length < this.sampleCap) this.falsePositiveSample.push(s);
      let spansCrash = false;
      for (const i of injections) {
        if (i.victim === s.member && s.startNs < i.crashNs && s.endNs > i.crashNs) {
          this.already.add(pairKey(i.index, s.observer));
          spansCrash = true;
        }
      }
      this.onFalsePositive?.(s, spansCrash);
    }
  }

  /** The score once every injection and suspicion is in. `observersOf(victim)`: the members that
   * watched it (every other one). */
  score(injections: readonly Injection[], observersOf: (victim: string) => readonly string[]): DetectorScore {
    const missed: InjectionPair[] = [];
    const alreadySuspected: InjectionPair[] = [];
    for (const i of injections) {
      for (const o of observersOf(i.victim)) {
        const k = pairKey(i.index, o);
        if (this.already.has(k)) alreadySuspected.push({ injection: i.index, observer: o });
        else if (!this.detected.has(k)) missed.push({ injection: i.index, observer: o });
      }
    }
    return {
      detections: [...this.detections],
      falsePositives: this.falsePositives,
      falsePositiveSample: [...this.falsePositiveSample],
      missed,
      alreadySuspected,
      repeats: this.repeats,
    };
  }
}

const pairKey = (injection: number, observer: string) => `${injection}\u0000${observer}`;

/** Judges one detector's suspicions all at once. */
export function scoreDetector(
  suspicions: readonly ObservedSuspicion[],
  injections: readonly Injection[],
  observersOf: (victim: string) => readonly string[],
  window: ScoreWindow,
): DetectorScore {
  const t = new DetectorTally(window);
  t.add(suspicions, injections);
  return t.score(injections, observersOf);
}

export interface PercentilesUs {
  p50: number;
  p99: number;
  max: number;
}

/** p50 / p99 / max in µs (3 decimals) of ns samples; NaN (JSON null) when there are none. */
export function percentilesUs(samplesNs: readonly number[]): PercentilesUs {
  const sorted = Float64Array.from(samplesNs).sort();
  const us = (v: number) => (Number.isNaN(v) ? Number.NaN : Math.round(v) / 1000);
  return {
    p50: us(nearestRank(sorted, 50)),
    p99: us(nearestRank(sorted, 99)),
    max: us(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
  };
}
