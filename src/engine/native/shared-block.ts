// JS side of the block shared with the engine thread (layout: native/shared_layout.h). The send
// ring has one producer (this thread) and one consumer (the engine); the delivery ring the other
// way round. Indices are published with Atomics, which order them against the slot contents the
// same way the engine's C11 release/acquire operations do.
import type { SharedLayout } from './addon.js';

export class SharedBlock {
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly u8: Uint8Array;
  private readonly txMask: number;

  constructor(
    readonly layout: SharedLayout,
    buffer: ArrayBuffer,
  ) {
    if (buffer.byteLength !== layout.SHARED_BYTES) throw new RangeError('shared block has the wrong size');
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.txMask = layout.TX_SLOTS - 1;
  }

  /** Queues a send request; returns its position (see taken()), or -1 when the ring is full. */
  push(laneSlot: number, gen: number, ticket: number, payload: Uint8Array): number {
    const L = this.layout;
    const head = Atomics.load(this.i32, L.W_TX_HEAD);
    const tail = Atomics.load(this.i32, L.W_TX_TAIL);
    if (((head - tail) | 0) >= L.TX_SLOTS) return -1;
    const at = L.TX_RING_OFFSET + (head & this.txMask) * L.TX_SLOT_BYTES;
    const w = at >> 2;
    this.i32[w] = laneSlot;
    this.i32[w + 1] = gen;
    this.i32[w + 2] = ticket;
    this.i32[w + 3] = payload.byteLength;
    this.u8.set(payload, at + L.TX_SLOT_HEADER);
    Atomics.store(this.i32, L.W_TX_HEAD, (head + 1) | 0);
    return head >>> 0;
  }

  /** Whether the engine has taken the request pushed at `position`. */
  taken(position: number): boolean {
    return ((Atomics.load(this.i32, this.layout.W_TX_TAIL) - position) | 0) > 0;
  }

  /** True while the engine blocks in ppoll: a push must then wake it (addon.wake). */
  engineSleeping(): boolean {
    return Atomics.load(this.i32, this.layout.W_SLEEPING) === 1;
  }

  released(slot: number): number {
    return Atomics.load(this.i32, (this.layout.RELEASED_OFFSET >> 2) + slot);
  }

  txStat(slot: number, word: number): number {
    return this.f64[(this.layout.TX_STATS_OFFSET >> 3) + slot * this.layout.TX_STAT_WORDS + word]!;
  }

  rxStat(slot: number, word: number): number {
    return this.f64[(this.layout.RX_STATS_OFFSET >> 3) + slot * this.layout.RX_STAT_WORDS + word]!;
  }

  engineStat(word: number): number {
    return this.f64[(this.layout.ENGINE_STATS_OFFSET >> 3) + word]!;
  }

  /** Zeroes a receiver slot's counters before a new lane uses it (the engine does too, later). */
  zeroRxStats(slot: number): void {
    const at = (this.layout.RX_STATS_OFFSET >> 3) + slot * this.layout.RX_STAT_WORDS;
    this.f64.fill(0, at, at + this.layout.RX_STAT_WORDS);
  }

  zeroTxStats(slot: number): void {
    const at = (this.layout.TX_STATS_OFFSET >> 3) + slot * this.layout.TX_STAT_WORDS;
    this.f64.fill(0, at, at + this.layout.TX_STAT_WORDS);
  }
}
