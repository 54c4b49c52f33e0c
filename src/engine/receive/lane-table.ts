// The receiver's lane table: the checks that need to know the lanes (unknown lane, sender address,
// stale epoch, per-lane size, sequence) and the per-lane measurement (loss, reordering, lateness,
// latency). Pure: no sockets, the receive time is passed in, so it is tested without a network.
import { MAX_PAYLOAD_BYTES } from '../../alloc/wire.js';
import { emptyLaneCounters } from '../counters.js';
import type { DropReason, LaneCounters, ReceiverSpec } from '../types.js';
import type { DecodedFrame } from '../wire/decode.js';
import { applyWatchTimeout, type LaneLiveness, newLiveness } from './liveness.js';
import { SeqWindow } from './seq-window.js';

export interface ReceiverLane {
  spec: ReceiverSpec;
  /** The grant before the current one: its frames may still be in flight when the receiver learns
   * the new grant first (sender and receiver agents apply a change independently), so they are
   * accepted under the old grant's size limit instead of being dropped as stale. */
  previous: { epoch: number; maxPayloadBytes: number } | undefined;
  window: SeqWindow;
  /** Its `dropped` is the lane's drops by reason, counted by admit(). */
  counters: LaneCounters;
  /** Incarnation of the newest heartbeat seen (-1: none yet). A larger one means the sender
   * restarted (its sequence starts over); a smaller one is its previous life, dropped as 'old'. */
  incarnation: number;
  /** The incarnation before the frame admit() accepted last (differs when that frame was the
   * first of a new incarnation). */
  previousIncarnation: number;
  live: LaneLiveness;
}

export class ReceiverTable {
  private readonly byWire = new Map<number, ReceiverLane>();
  private readonly byId = new Map<string, ReceiverLane>();
  /** The lane of the last admitted frame (valid after admit() returned null). */
  lane: ReceiverLane | undefined;

  constructor(private readonly localClock: number) {}

  /** Adds a lane, or applies a grant change keeping its sequence window, counters and liveness.
   * `nowNs` starts a liveness watch (spec.heartbeat.timeoutNs) that was not running. */
  set(spec: ReceiverSpec, nowNs = 0): ReceiverLane {
    const timeoutNs = spec.heartbeat?.timeoutNs ?? 0;
    const existing = this.byId.get(spec.laneId);
    if (existing) {
      applyWatchTimeout(existing.live, timeoutNs, nowNs);
      if (existing.spec.wireId !== spec.wireId) this.byWire.delete(existing.spec.wireId);
      if (spec.epoch > existing.spec.epoch) {
        existing.previous = { epoch: existing.spec.epoch, maxPayloadBytes: existing.spec.maxPayloadBytes };
      }
      existing.spec = copySpec(spec);
      this.byWire.set(spec.wireId, existing);
      return existing;
    }
    const lane: ReceiverLane = {
      spec: copySpec(spec),
      previous: undefined,
      window: new SeqWindow(),
      counters: emptyLaneCounters(spec.laneId),
      incarnation: -1,
      previousIncarnation: -1,
      live: newLiveness(Math.max(timeoutNs, 0), nowNs),
    };
    this.byId.set(spec.laneId, lane);
    this.byWire.set(spec.wireId, lane);
    return lane;
  }

  remove(laneId: string): void {
    const lane = this.byId.get(laneId);
    if (!lane) return;
    this.byId.delete(laneId);
    if (this.byWire.get(lane.spec.wireId) === lane) this.byWire.delete(lane.spec.wireId);
  }

  get(laneId: string): ReceiverLane | undefined {
    return this.byId.get(laneId);
  }

  lanes(): IterableIterator<ReceiverLane> {
    return this.byId.values();
  }

  /** Checks a decoded frame against the lane table. null = deliver (see `lane`), else why to drop.
   * Order: who sent it (lane, address) before what it says (epoch, size, sequence), and the
   * sequence window only moves for frames that passed everything else. */
  admit(f: DecodedFrame, srcAddress: string, receivedNs: number): DropReason | null {
    const lane = this.byWire.get(f.wireId);
    if (!lane) return 'unknownLane';
    const spec = lane.spec;
    const dropped = lane.counters.dropped;
    if (srcAddress !== spec.senderAddress) {
      dropped.wrongSender++;
      return 'wrongSender';
    }
    const prev = lane.previous;
    // Epochs are global, not per lane: a receiver that skipped one of the lane's grants (it resynced
    // from a snapshot) holds an older `previous` than the grant its sender may still be on, so an
    // epoch between the two is a grant it never saw, not a stale one.
    if (f.epoch < spec.epoch && (prev === undefined || f.epoch < prev.epoch)) {
      dropped.staleEpoch++;
      return 'staleEpoch';
    }
    // An epoch this receiver holds no grant for (newer, or one it skipped) may carry a larger
    // σ_max than it knows: hold it to the frame limit.
    const limit =
      f.epoch === spec.epoch
        ? spec.maxPayloadBytes
        : f.epoch === prev?.epoch
          ? prev.maxPayloadBytes
          : MAX_PAYLOAD_BYTES;
    if (f.dataLength > limit) {
      dropped.oversize++;
      return 'oversize';
    }
    // The incarnation goes before the sequence: a restarted sender numbers from 0 again, which the
    // old window would take for duplicates, and its previous life's stragglers must not pass.
    const previousIncarnation = lane.incarnation;
    if (f.heartbeat >= 0) {
      if (f.heartbeat < lane.incarnation) {
        dropped.old++;
        return 'old';
      }
      if (f.heartbeat > lane.incarnation) {
        lane.window.restart();
        lane.incarnation = f.heartbeat;
      }
    }
    const verdict = lane.window.accept(f.seq);
    if (verdict === 'duplicate' || verdict === 'old') {
      dropped[verdict]++;
      return verdict;
    }

    const c = lane.counters;
    c.received++;
    if (f.heartbeat >= 0) c.heartbeats++;
    if (f.clock === this.localClock && spec.sharedClock !== false) {
      const lat = receivedNs - f.sentNs;
      if (lat > spec.lambdaMaxNs) c.late++;
      else if (lat < spec.lambdaMinNs) c.early++;
      const l = c.latency;
      if (l.count === 0 || lat < l.minNs) l.minNs = lat;
      if (l.count === 0 || lat > l.maxNs) l.maxNs = lat;
      l.count++;
      l.sumNs += lat;
    }
    lane.previousIncarnation = previousIncarnation;
    this.lane = lane;
    return null;
  }

  /** A snapshot of one lane's receive counters. */
  snapshot(lane: ReceiverLane): LaneCounters {
    const c = lane.counters;
    return {
      ...c,
      lost: lane.window.openGaps,
      reordered: lane.window.reordered,
      latency: { ...c.latency },
      dropped: { ...c.dropped },
    };
  }
}

function copySpec(spec: ReceiverSpec): ReceiverSpec {
  return spec.heartbeat ? { ...spec, heartbeat: { ...spec.heartbeat } } : { ...spec };
}
