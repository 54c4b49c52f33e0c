// Drains the delivery ring on the JS thread. The engine wakes us at most once per receive batch
// (native/engine_rx.c); one wake-up may carry many messages, and the liveness events of the engine
// thread's watchdog, in order with them. The notified flag is cleared BEFORE the ring is read, so a
// message pushed after our last look always brings a new wake-up.
import type { DeliveryHandler, DeliveryView, LivenessEvent, LivenessHandler } from '../types.js';
import type { SharedBlock } from './shared-block.js';

/** The native engine's delivery view: also the kernel's receive timestamp (SO_TIMESTAMPNS mapped
 * onto CLOCK_MONOTONIC; 0 when the kernel gave none), so host delay = receivedNs − kernelReceivedNs. */
export interface NativeDeliveryView extends DeliveryView {
  kernelReceivedNs: number;
}

const EMPTY = new Uint8Array(0);

export class DeliveryDrain {
  /** Per receiver slot: the lane id and generation of the lane that owns it. */
  readonly owners: ({ laneId: string; gen: number } | undefined)[] = [];
  private handler: DeliveryHandler | undefined;
  private liveness: LivenessHandler | undefined;
  private readonly view: NativeDeliveryView = {
    laneId: '',
    seq: 0,
    sentNs: 0,
    receivedNs: 0,
    kernelReceivedNs: 0,
    payload: EMPTY,
    heartbeat: -1,
  };
  private readonly event: LivenessEvent = {
    laneId: '',
    state: 'alive',
    incarnation: -1,
    lastArrivalNs: 0,
    lastSentNs: 0,
    atNs: 0,
  };

  /** Per ring slot, the payload view handed out last and its length: a lane's messages mostly have
   * one size, so the view is reused instead of allocated per message (DeliveryView allows it). */
  private readonly views: (Uint8Array | undefined)[];

  constructor(private readonly block: SharedBlock) {
    this.views = new Array(block.layout.RX_SLOTS);
  }

  onDelivery(handler: DeliveryHandler): void {
    this.handler = handler;
  }

  onLiveness(handler: LivenessHandler): void {
    this.liveness = handler;
  }

  /** Whether the ring holds anything to drain: one atomic read, for a poll that read nothing (the
   * engine thread's liveness events may still have come in). */
  pending(): boolean {
    const b = this.block;
    const L = b.layout;
    return Atomics.load(b.i32, L.W_RX_HEAD) !== Atomics.load(b.i32, L.W_RX_TAIL);
  }

  drain(): void {
    const b = this.block;
    const L = b.layout;
    const mask = L.RX_SLOTS - 1;
    let failure: unknown;
    let hasFailure = false;
    for (;;) {
      Atomics.store(b.i32, L.W_RX_NOTIFIED, 0);
      let tail = Atomics.load(b.i32, L.W_RX_TAIL);
      const head = Atomics.load(b.i32, L.W_RX_HEAD);
      if (tail === head) break;
      for (; tail !== head; tail = (tail + 1) | 0) {
        const at = L.RX_RING_OFFSET + (tail & mask) * L.RX_SLOT_BYTES;
        const w = at >> 2;
        const owner = this.owners[b.u32[w]!];
        // A lane removed (or its slot reused) after the engine accepted the message: nobody to tell.
        if (!owner || owner.gen !== b.u32[w + 1]!) continue;
        const f = (at + 16) >> 3;
        try {
          if (b.u32[w + 3]! === L.RX_EVENT) this.emitEvent(owner.laneId, b.u32[w + 2]!, f);
          else this.deliver(owner.laneId, w, f, at);
        } catch (e) {
          // Keep draining (other lanes' messages must not be lost); report like a listener error.
          if (!hasFailure) failure = e;
          hasFailure = true;
        }
      }
      Atomics.store(b.i32, L.W_RX_TAIL, tail);
    }
    if (hasFailure)
      queueMicrotask(() => {
        throw failure;
      });
  }

  private deliver(laneId: string, w: number, f: number, at: number): void {
    if (!this.handler) return;
    const b = this.block;
    const v = this.view;
    v.laneId = laneId;
    v.seq = b.u32[w + 2]!;
    v.sentNs = b.f64[f]!;
    v.receivedNs = b.f64[f + 1]!;
    v.kernelReceivedNs = b.f64[f + 2]!;
    v.heartbeat = b.f64[f + 3]!;
    const start = at + b.layout.RX_SLOT_HEADER;
    const length = b.u32[w + 3]!;
    const index = (at - b.layout.RX_RING_OFFSET) / b.layout.RX_SLOT_BYTES;
    let view = this.views[index];
    if (view === undefined || view.byteLength !== length) {
      view = b.u8.subarray(start, start + length);
      this.views[index] = view;
    }
    v.payload = view;
    this.handler(v);
  }

  private emitEvent(laneId: string, state: number, f: number): void {
    if (!this.liveness) return;
    const b = this.block;
    const e = this.event;
    e.laneId = laneId;
    e.state = state === b.layout.LIVE_SUSPECT ? 'suspect' : 'alive';
    e.lastSentNs = b.f64[f]!;
    e.lastArrivalNs = b.f64[f + 1]!;
    e.atNs = b.f64[f + 2]!;
    e.incarnation = b.f64[f + 3]!;
    this.liveness(e);
  }
}
