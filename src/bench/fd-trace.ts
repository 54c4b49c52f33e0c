// `xlane bench fd`: one member's heartbeat arrivals at one observer, replayed through a pure
// detector (φ-accrual or a fixed timeout, src/fd) as they come, turned into the detector's
// suspicions. A suspicion starts at the detector's EXACT crossing time (suspectAtNs(): no polling
// delay) and ends at the next arrival. A new incarnation (the member restarted) gets a fresh
// detector, as Akka gives a new address its own; frames of an older incarnation are ignored, as the
// engine drops them. Pure: times are passed in; nothing is allocated per arrival, only per suspicion.
import type { HeartbeatDetector } from '../fd/detector.js';

export interface Suspicion {
  /** The detector's crossing time, and when the next heartbeat ended it (Infinity: still silent). */
  startNs: number;
  endNs: number;
  /** The arrival the silence followed, and the incarnation it belonged to. */
  lastArrivalNs: number;
  incarnation: number;
}

export type SuspicionSink = (s: Suspicion) => void;

export class SuspicionTrace {
  private detector: HeartbeatDetector | undefined;
  private incarnation = -1;
  /** Heartbeats replayed, and those of an older incarnation left out. */
  arrivals = 0;
  stale = 0;

  constructor(
    private readonly makeDetector: () => HeartbeatDetector,
    private readonly sink: SuspicionSink,
  ) {}

  /** A heartbeat of `incarnation` arrived at `nowNs` (non-decreasing). */
  arrival(nowNs: number, incarnation: number): void {
    if (incarnation < this.incarnation) {
      this.stale++;
      return;
    }
    // The silence before this heartbeat belongs to the life it ended, even when this one starts a
    // new life (the engine's rule too).
    this.closeSilence(nowNs);
    if (incarnation > this.incarnation || !this.detector) {
      this.detector = this.makeDetector();
      this.incarnation = incarnation;
    }
    this.detector.heartbeat(nowNs);
    this.arrivals++;
  }

  /** End of the observation at `nowNs`: a silence already past the crossing is a suspicion that
   * had not ended (endNs = Infinity). */
  finish(nowNs: number): void {
    const d = this.detector;
    if (!d || d.lastHeartbeatNs === undefined) return;
    const at = d.suspectAtNs();
    if (nowNs >= at) this.emit(at, Number.POSITIVE_INFINITY, d.lastHeartbeatNs);
  }

  /** When the current detector would suspect if nothing more comes (Infinity before any heartbeat). */
  suspectAtNs(): number {
    return this.detector ? this.detector.suspectAtNs() : Number.POSITIVE_INFINITY;
  }

  private closeSilence(nowNs: number): void {
    const d = this.detector;
    if (!d || d.lastHeartbeatNs === undefined) return;
    const at = d.suspectAtNs();
    if (nowNs >= at) this.emit(at, nowNs, d.lastHeartbeatNs);
  }

  private emit(startNs: number, endNs: number, lastArrivalNs: number): void {
    this.sink({ startNs, endNs, lastArrivalNs, incarnation: this.incarnation });
  }
}
