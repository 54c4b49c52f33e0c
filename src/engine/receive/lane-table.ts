// The receiver's lane table: the checks that need to know the lanes (unknown lane, sender address,
// stale epoch, per-lane size, sequence) and the per-lane measurement (loss, reordering, lateness,
// latency). Pure: no sockets, the receive time is passed in, so it is tested without a network.
import { MAX_PAYLOAD_BYTES } from '../../alloc/wire.js';
import { emptyLaneCounters } from '../counters.js';
import type { DropReason, LaneCounters, ReceiverSpec } from '../types.js';
import type { DecodedFrame } from '../wire/decode.js';
import { SeqWindow } from './seq-window.js';

export interface ReceiverLane {
  spec: ReceiverSpec;
  /** The grant before the current one: its frames may still be in flight when the receiver learns
   * the new grant first (sender and receiver agents apply a change independently), so they are
   * accepted under the old grant's size limit instead of being dropped as stale. */
  previous: { epoch: number; maxPayloadBytes: number } | undefined;
  window: SeqWindow;
  counters: LaneCounters;
}

export class ReceiverTable {
  private readonly byWire = new Map<number, ReceiverLane>();
  private readonly byId = new Map<string, ReceiverLane>();
  /** The lane of the last admitted frame (valid after admit() returned null). */
  lane: ReceiverLane | undefined;

  constructor(private readonly localClock: number) {}

  /** Adds a lane, or applies a grant change keeping its sequence window and counters. */
  set(spec: ReceiverSpec): void {
    const existing = this.byId.get(spec.laneId);
    if (existing) {
      if (existing.spec.wireId !== spec.wireId) this.byWire.delete(existing.spec.wireId);
      if (spec.epoch > existing.spec.epoch) {
        existing.previous = { epoch: existing.spec.epoch, maxPayloadBytes: existing.spec.maxPayloadBytes };
      }
      existing.spec = { ...spec };
      this.byWire.set(spec.wireId, existing);
      return;
    }
    const lane: ReceiverLane = {
      spec: { ...spec },
      previous: undefined,
      window: new SeqWindow(),
      counters: emptyLaneCounters(spec.laneId),
    };
    this.byId.set(spec.laneId, lane);
    this.byWire.set(spec.wireId, lane);
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
    if (srcAddress !== spec.senderAddress) return 'wrongSender';
    const prev = lane.previous;
    if (f.epoch < spec.epoch && f.epoch !== prev?.epoch) return 'staleEpoch';
    // A newer epoch may carry a grant this receiver has not learnt yet: hold it to the frame limit.
    const limit =
      f.epoch === spec.epoch
        ? spec.maxPayloadBytes
        : f.epoch === prev?.epoch
          ? prev.maxPayloadBytes
          : MAX_PAYLOAD_BYTES;
    if (f.dataLength > limit) return 'oversize';
    const verdict = lane.window.accept(f.seq);
    if (verdict === 'duplicate' || verdict === 'old') return verdict;

    const c = lane.counters;
    c.received++;
    if (f.clock === this.localClock) {
      const lat = receivedNs - f.sentNs;
      if (lat > spec.lambdaMaxNs) c.late++;
      else if (lat < spec.lambdaMinNs) c.early++;
      const l = c.latency;
      if (l.count === 0 || lat < l.minNs) l.minNs = lat;
      if (l.count === 0 || lat > l.maxNs) l.maxNs = lat;
      l.count++;
      l.sumNs += lat;
    }
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
    };
  }
}
