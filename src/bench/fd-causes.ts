// `xlane bench fd`: which premise each X-FD false positive broke. X-FD suspects a live member only
// when two of its heartbeats arrived more than TO apart, and TO covers a sender that keeps its
// boundaries (its frames leave at most π + 2E apart) and frames that stay within the lane's window
// (src/fd/timeout.ts). The engine reports, for the heartbeat a silence followed and for the frame
// that ended it, the send stamp and the arrival (the kernel's receive stamp), on the clock the
// testbed's hosts share. So a false positive whose ending frame is known shows:
// - senderLate: its two heartbeats left more than π + 2E apart (the sender's host stalled);
// - inFlightLate: the ending frame took longer than λ_max from its send stamp to the observer's
//   kernel (the path: the switch, or the kernels' packet work on a shared machine);
// - arrivedInTime: it reached the observer's kernel within TO, but its socket only after the
//   watchdog had looked (the observer's own kernel backlog);
// - unexplained: none of these.
// These are conditions, not classes: one stall can delay a frame's departure and its flight. Pure.
import type { ObservedSuspicion, PercentilesUs } from './fd-score.js';
import { percentilesUs } from './fd-score.js';

/** What the grant promised the pair (observer watching member). */
export interface PairContract {
  periodNs: number;
  /** The sender's release jitter E. */
  releaseJitterNs: number;
  /** The observer's window of the member's lane. */
  lambdaMaxNs: number;
  timeoutNs: number;
}

export interface FalsePositiveCauses {
  /** False positives whose ending frame is known: not a silence still running at the end, nor one
   * its member's crash ended (the frame then came from its next life; the bench leaves them out). */
  judged: number;
  senderLate: number;
  inFlightLate: number;
  arrivedInTime: number;
  unexplained: number;
  /** Between the two heartbeats' send stamps, and the ending frame's send stamp → arrival. */
  sendGapUs: PercentilesUs;
  inFlightUs: PercentilesUs;
}

export class CauseTally {
  private judged = 0;
  private senderLate = 0;
  private inFlightLate = 0;
  private arrivedInTime = 0;
  private unexplained = 0;
  private readonly sendGaps: number[] = [];
  private readonly inFlight: number[] = [];

  constructor(private readonly contractOf: (observer: string, member: string) => PairContract | undefined) {}

  add(s: ObservedSuspicion): void {
    const c = this.contractOf(s.observer, s.member);
    const { lastSentNs, endSentNs, endArrivalNs } = s;
    if (!c || !(lastSentNs! > 0 && endSentNs! > 0 && endArrivalNs! > 0)) return;
    const sendGap = endSentNs! - lastSentNs!;
    const flight = endArrivalNs! - endSentNs!;
    this.judged++;
    this.sendGaps.push(sendGap);
    this.inFlight.push(flight);
    let explained = false;
    if (sendGap > c.periodNs + 2 * c.releaseJitterNs) {
      this.senderLate++;
      explained = true;
    }
    if (flight > c.lambdaMaxNs) {
      this.inFlightLate++;
      explained = true;
    }
    if (endArrivalNs! - s.lastArrivalNs < c.timeoutNs) {
      this.arrivedInTime++;
      explained = true;
    }
    if (!explained) this.unexplained++;
  }

  summary(): FalsePositiveCauses {
    return {
      judged: this.judged,
      senderLate: this.senderLate,
      inFlightLate: this.inFlightLate,
      arrivedInTime: this.arrivedInTime,
      unexplained: this.unexplained,
      sendGapUs: percentilesUs(this.sendGaps),
      inFlightUs: percentilesUs(this.inFlight),
    };
  }
}
