// What the engine does with one received datagram, apart from the socket: decode, check against the
// lane table, count a drop under exactly one reason, or fill the reused delivery view and hand it to
// the application. Used by the js engine's receive socket and directly by tests.
import { emptyDropCounters } from '../counters.js';
import type { DeliveryHandler, DeliveryView, DropReason } from '../types.js';
import { FrameDecoder } from '../wire/decode.js';
import { ReceiverTable } from './lane-table.js';

const EMPTY = new Uint8Array(0);

export class FrameReceiver {
  readonly table: ReceiverTable;
  readonly dropped: Record<DropReason, number> = emptyDropCounters();
  private readonly decoder = new FrameDecoder();
  private readonly view: DeliveryView = { laneId: '', seq: 0, sentNs: 0, receivedNs: 0, payload: EMPTY };
  private handler: DeliveryHandler | undefined;

  constructor(localClock: number) {
    this.table = new ReceiverTable(localClock);
  }

  onDelivery(handler: DeliveryHandler): void {
    this.handler = handler;
  }

  /** Returns null when accepted (and delivered if it carries DATA), else the reason the datagram
   * was dropped (already counted). */
  receive(msg: Uint8Array, srcAddress: string, receivedNs: number): DropReason | null {
    const reason = this.decoder.decode(msg) ?? this.table.admit(this.decoder.frame, srcAddress, receivedNs);
    if (reason !== null) {
      this.dropped[reason]++;
      return reason;
    }
    const f = this.decoder.frame;
    // A frame with control sub-messages only (a heartbeat) is accepted and moves the sequence
    // window, but has no message for the application.
    if (f.dataOffset < 0) return null;
    const v = this.view;
    v.laneId = this.table.lane!.spec.laneId;
    v.seq = f.seq;
    v.sentNs = f.sentNs;
    v.receivedNs = receivedNs;
    v.payload = msg.subarray(f.dataOffset, f.dataOffset + f.dataLength);
    // A throwing handler surfaces like any other event listener's error: hiding it would hide bugs.
    this.handler?.(v);
    return null;
  }
}
