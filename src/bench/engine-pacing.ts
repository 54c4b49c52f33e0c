// The periodic-lane half of the bench. The sender keeps its lane always backlogged (policy
// 'coalesce': a newer message replaces the waiting one, as coordination state does), so the engine
// has a frame ready at every period boundary and any late or missing frame is the engine's doing.
// The receiver records each frame's sequence number and the sender's release timestamp (sentNs,
// read by the engine's pacing clock when it releases the frame); engine-stats.ts judges them.
import { monotonicNs } from '../engine/clock.js';
import type { Engine, LaneCounters, SenderSpec } from '../engine/types.js';
import type { PaceReply, PacingReportReply } from './engine-peer-protocol.js';
import { analysePacing, summarizeNs } from './engine-stats.js';

/** Pause between refills (ms): short against a 100 µs period, so the lane is refilled before each
 * boundary, without a second spinning thread competing with the engine's pacing worker for the
 * machine's CPUs. The peer lowers its main thread's timer slack (see engine-peer.ts) so that the
 * wait is not stretched by Linux's default 50 µs. */
const REFILL_WAIT_MS = 0.02;
const SETTLE_MS = 20;

/** Where a periodic frame's payload carries the message number (u32), and from AT_REFILL the time
 * the application handed it to the engine and the time it handed over the message before
 * (monotonic ns, two f64 LE): the receiver can then tell the engine's lateness from the
 * application's (analysePacing). Payloads are 64 bytes, so both fit. */
const AT_CALL = 0;
const AT_REFILL = 8;

/** The heartbeat feed: the engine releases a frame at every boundary by itself; the application
 * only opens the lane for `seconds` and closes it. */
export async function paceHeartbeat(engine: Engine, spec: SenderSpec, seconds: number): Promise<PaceReply> {
  engine.setSender({ ...spec, heartbeat: { incarnation: 1 } });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  // Stop the heartbeats first (a grant change keeps the lane and its counters), give the engine's
  // thread a moment to apply it, then count: every frame counted sent has been released.
  engine.setSender(spec);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const lane = engine.counters().lanes.find((l) => l.laneId === spec.laneId);
  engine.removeSender(spec.laneId);
  return {
    op: 'pace',
    calls: 0,
    coalesced: 0,
    maxRefillGapUs: 0,
    refillGapsOverPeriod: 0,
    ...senderView(lane),
  };
}

export function paceLane(
  engine: Engine,
  laneId: string,
  payload: Buffer,
  periodNs: number,
  seconds: number,
  /** Ends the feed before `seconds`. */
  stop?: AbortSignal,
): Promise<PaceReply> {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = monotonicNs() + seconds * 1e9;
  let calls = 0;
  let coalesced = 0;
  let last = monotonicNs();
  let maxGap = 0;
  let gapsOver = 0;
  let prevRefill = 0;
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
      payload.writeUInt32LE(calls >>> 0, AT_CALL);
      // Read after the gap bookkeeping and just before send(): a refill never looks earlier than
      // it was, so a late application is never blamed on the engine.
      const refill = monotonicNs();
      payload.writeDoubleLE(refill, AT_REFILL);
      payload.writeDoubleLE(prevRefill, AT_REFILL + 8);
      prevRefill = refill;
      try {
        if (engine.send(laneId, payload) === 'coalesced') coalesced++;
      } catch (e) {
        reject(e);
        return;
      }
      calls++;
      if (now >= end || stop?.aborted) {
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
              ...senderView(lane),
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

function senderView(
  lane: LaneCounters | undefined,
): Pick<PaceReply, 'sent' | 'lateReleases' | 'maxReleaseDelayUs'> {
  return {
    sent: lane?.sent ?? 0,
    lateReleases: lane?.lateReleases ?? 0,
    maxReleaseDelayUs: Math.round(lane?.maxReleaseDelayNs ?? 0) / 1000,
  };
}

/** Records the periodic lane's frames at the receiver, without allocating per frame. */
export class PacingRecorder {
  private seqs = new Uint32Array(0);
  private sentNs = new Float64Array(0);
  private refillNs = new Float64Array(0);
  private prevRefillNs = new Float64Array(0);
  private count = 0;
  private overflow = 0;
  private readonly scratchF64 = new Float64Array(2);
  private readonly scratch = new Uint8Array(this.scratchF64.buffer);

  constructor(
    private readonly periodNs: number,
    private readonly releaseJitterNs: number,
    /** effectivePhaseNs() of the sending lane's spec. */
    private readonly phaseNs: number,
  ) {}

  /** Makes room for a run of `seconds`: the engine cannot release faster than one frame per π. */
  arm(seconds: number): void {
    const capacity = Math.ceil((seconds * 1e9) / this.periodNs) + 1024;
    this.seqs = new Uint32Array(capacity);
    this.sentNs = new Float64Array(capacity);
    this.refillNs = new Float64Array(capacity);
    this.prevRefillNs = new Float64Array(capacity);
    this.count = 0;
    this.overflow = 0;
  }

  record(seq: number, sentNs: number, payload: Uint8Array): void {
    if (this.count >= this.seqs.length) {
      this.overflow++;
      return;
    }
    // Byte copy into a fixed scratch: no view object per frame (Float64Array is host-endian; the
    // sender wrote little-endian, which every Linux target of Node is). Heartbeat frames carry no
    // refill times: NaN makes analysePacing hold every one of their delays against the engine.
    if (payload.byteLength >= AT_REFILL + 16) {
      for (let k = 0; k < 16; k++) this.scratch[k] = payload[AT_REFILL + k]!;
    } else this.scratchF64.fill(Number.NaN);
    const i = this.count++;
    this.seqs[i] = seq;
    this.sentNs[i] = sentNs;
    this.refillNs[i] = this.scratchF64[0]!;
    this.prevRefillNs[i] = this.scratchF64[1]!;
  }

  report(dropped: Record<string, number>): PacingReportReply {
    const a = analysePacing(this.seqs, this.sentNs, this.count, this.periodNs, {
      releaseJitterNs: this.releaseJitterNs,
      phaseNs: this.phaseNs,
      refills: { refillNs: this.refillNs, prevRefillNs: this.prevRefillNs },
    });
    return {
      op: 'pacingReport',
      pacingErrUs: summarizeNs(a.errorsNs, a.errors),
      frames: a.frames,
      judged: a.errors,
      missedPeriods: a.missedPeriods,
      lostFrames: a.lostFrames,
      enginePacingErrUs: summarizeNs(a.engineErrorsNs, a.engineErrors),
      engineJudged: a.engineErrors,
      engineMissedPeriods: a.engineMissedPeriods,
      appLateFrames: a.appLateFrames,
      overflow: this.overflow,
      dropped,
    };
  }
}
