// The periodic-lane half of the bench. The sender keeps its lane always backlogged (policy
// 'coalesce': a newer message replaces the waiting one, as coordination state does), so the engine
// has a frame ready at every period boundary and any late or missing frame is the engine's doing.
// The receiver records each frame's sequence number and the sender's release timestamp (sentNs,
// read by the engine's pacing clock when it releases the frame); engine-stats.ts judges them.
import { monotonicNs } from '../engine/clock.js';
import type { Engine } from '../engine/types.js';
import type { PaceReply, PacingReportReply } from './engine-peer-protocol.js';
import { analysePacing, summarizeNs } from './engine-stats.js';

/** Pause between refills (ms): short against a 100 µs period, so the lane is refilled before each
 * boundary, without a second spinning thread competing with the engine's pacing worker for the
 * machine's CPUs. The peer lowers its main thread's timer slack (see engine-peer.ts) so that the
 * wait is not stretched by Linux's default 50 µs. */
const REFILL_WAIT_MS = 0.02;
const SETTLE_MS = 20;

export function paceLane(
  engine: Engine,
  laneId: string,
  payload: Buffer,
  periodNs: number,
  seconds: number,
): Promise<PaceReply> {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = monotonicNs() + seconds * 1e9;
  let calls = 0;
  let coalesced = 0;
  let last = monotonicNs();
  let maxGap = 0;
  let gapsOver = 0;
  return new Promise((resolve, reject) => {
    // One refill per event-loop turn: the engine hands deferred messages to its worker from
    // setImmediate, so the loop must let the event loop run between refills.
    const tick = () => {
      const now = monotonicNs();
      if (calls > 0) {
        const gap = now - last;
        if (gap > maxGap) maxGap = gap;
        if (gap >= periodNs) gapsOver++;
      }
      last = now;
      payload.writeUInt32LE(calls >>> 0, 0);
      try {
        if (engine.send(laneId, payload) === 'coalesced') coalesced++;
      } catch (e) {
        reject(e);
        return;
      }
      calls++;
      if (now >= end) {
        // The last message is still waiting for its boundary: count it once it has left.
        setTimeout(
          () => {
            const lane = engine.counters().lanes.find((l) => l.laneId === laneId);
            resolve({
              op: 'pace',
              calls,
              coalesced,
              maxRefillGapUs: Math.round(maxGap) / 1000,
              refillGapsOverPeriod: gapsOver,
              sent: lane?.sent ?? 0,
            });
          },
          SETTLE_MS + periodNs / 1e6,
        );
        return;
      }
      Atomics.wait(cell, 0, 0, REFILL_WAIT_MS);
      setImmediate(tick);
    };
    tick();
  });
}

/** Records the periodic lane's frames at the receiver, without allocating per frame. */
export class PacingRecorder {
  private seqs = new Uint32Array(0);
  private sentNs = new Float64Array(0);
  private count = 0;
  private overflow = 0;

  constructor(private readonly periodNs: number) {}

  /** Makes room for a run of `seconds`: the engine cannot release faster than one frame per π. */
  arm(seconds: number): void {
    const capacity = Math.ceil((seconds * 1e9) / this.periodNs) + 1024;
    this.seqs = new Uint32Array(capacity);
    this.sentNs = new Float64Array(capacity);
    this.count = 0;
    this.overflow = 0;
  }

  record(seq: number, sentNs: number): void {
    if (this.count >= this.seqs.length) {
      this.overflow++;
      return;
    }
    this.seqs[this.count] = seq;
    this.sentNs[this.count++] = sentNs;
  }

  report(dropped: Record<string, number>): PacingReportReply {
    const a = analysePacing(this.seqs, this.sentNs, this.count, this.periodNs);
    return {
      op: 'pacingReport',
      pacingErrUs: summarizeNs(a.errorsNs, a.errors),
      frames: a.frames,
      judged: a.errors,
      missedPeriods: a.missedPeriods,
      lostFrames: a.lostFrames,
      overflow: this.overflow,
      dropped,
    };
  }
}
