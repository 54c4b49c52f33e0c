// What the engine does with one received datagram, apart from the socket: decode, check against the
// lane table, count a drop under exactly one reason, or fill the reused delivery view and hand it to
// the application. Used by the js engine's receive socket and directly by tests.
import { emptyDropCounters } from '../counters.js';
import type { DeliveryHandler, DeliveryView, DropReason, LivenessHandler, ReceiverSpec } from '../types.js';
import { FrameDecoder } from '../wire/decode.js';
import { type ReceiverLane, ReceiverTable } from './lane-table.js';
import { LivenessMonitor } from './liveness.js';

const EMPTY = new Uint8Array(0);

export class FrameReceiver {
  readonly table: ReceiverTable;
  readonly dropped: Record<DropReason, number> = emptyDropCounters();
  private readonly decoder = new FrameDecoder();
  private readonly liveness = new LivenessMonitor();
  private readonly view: DeliveryView = {
    laneId: '',
    seq: 0,
    sentNs: 0,
    receivedNs: 0,
    // Node's dgram gives no kernel receive stamp: always unknown.
    kernelReceivedNs: 0,
    payload: EMPTY,
    heartbeat: -1,
  };
  private handler: DeliveryHandler | undefined;
  /** Called after a watched lane's last arrival moved (the engine tells its watchdog thread);
   * `revived`: the lane was unknown or suspect until this frame. */
  onArrival: ((lane: ReceiverLane, revived: boolean) => void) | undefined;

  constructor(localClock: number) {
    this.table = new ReceiverTable(localClock);
  }

  onDelivery(handler: DeliveryHandler): void {
    this.handler = handler;
  }

  onLiveness(handler: LivenessHandler): void {
    this.liveness.onLiveness(handler);
  }

  /** Adds or changes a lane (see ReceiverTable.set); `nowNs` starts its liveness watch. */
  setLane(spec: ReceiverSpec, nowNs: number): ReceiverLane {
    return this.table.set(spec, nowNs);
  }

  /** The watchdog found the lane's deadline passed at `atNs`; true when 'suspect' was emitted. */
  expire(lane: ReceiverLane, atNs: number): boolean {
    return this.liveness.expire(lane.spec.laneId, lane.live, lane.incarnation, atNs);
  }

  /** Returns null when accepted (and delivered if it carries DATA, or a heartbeat the lane asked to
   * see), else the reason the datagram was dropped (already counted). */
  receive(msg: Uint8Array, srcAddress: string, receivedNs: number): DropReason | null {
    const reason = this.decoder.decode(msg) ?? this.table.admit(this.decoder.frame, srcAddress, receivedNs);
    if (reason !== null) {
      this.dropped[reason]++;
      return reason;
    }
    const f = this.decoder.frame;
    const lane = this.table.lane!;
    const spec = lane.spec;
    const revived = this.liveness.frame(
      spec.laneId,
      lane.live,
      lane.previousIncarnation,
      lane.incarnation,
      receivedNs,
      f.sentNs,
    );
    if (lane.live.timeoutNs > 0) this.onArrival?.(lane, revived);
    // A frame with control sub-messages only (a heartbeat) is accepted and moves the sequence
    // window; the application sees it only if the lane asked for heartbeats.
    if (f.dataOffset < 0 && !(f.heartbeat >= 0 && spec.heartbeat?.deliver)) return null;
    const v = this.view;
    v.laneId = spec.laneId;
    v.seq = f.seq;
    v.sentNs = f.sentNs;
    v.receivedNs = receivedNs;
    v.payload = f.dataOffset < 0 ? EMPTY : msg.subarray(f.dataOffset, f.dataOffset + f.dataLength);
    v.heartbeat = f.heartbeat;
    // A throwing handler surfaces like any other event listener's error: hiding it would hide bugs.
    this.handler?.(v);
    return null;
  }
}
