// A sending lane's release state, shared by the two threads that may release its frames: the pacing
// worker (at a period boundary) and the main thread (the direct path: a message handed over after
// its boundary has already passed leaves at once, from the calling thread, instead of waking the
// worker — the wake-up of a sleeping thread costs tens of µs on a VM, more than the whole send).
// Whoever releases holds the lane's lock word from reading the boundary until the datagram has left,
// so frames leave in sequence order and on the lane's grid of boundaries (engine/schedule.ts),
// whichever thread sends them.

import { boundaryAfterNs, gridAnchorNs } from '../schedule.js';

const W_LOCK = 0;
/** Generation of the lane that owns the slot now: a thread holding an older lane's state (the
 * worker before it has seen a removal) must not release for it. */
const W_GEN = 1;
const W_SEQ = 2;
const WORDS = 4;

export const HOLDER_MAIN = 1;
export const HOLDER_WORKER = 2;

export interface TxBuffers {
  words: SharedArrayBuffer;
  anchor: SharedArrayBuffer;
}

export function createTxBuffers(lanes: number): TxBuffers {
  return {
    words: new SharedArrayBuffer(lanes * WORDS * 4),
    anchor: new SharedArrayBuffer(lanes * 8),
  };
}

export class TxState {
  private readonly words: Int32Array;
  /** Per slot: the grid point of the lane's last frame (−∞: never released); the next boundary is
   * this + π, with the π in force (engine/schedule.ts). */
  private readonly anchor: Float64Array;

  constructor(b: TxBuffers) {
    this.words = new Int32Array(b.words);
    this.anchor = new Float64Array(b.anchor);
  }

  /** Never waits: a thread that finds the lane busy falls back (main: the ring; worker: retries). */
  tryLock(slot: number, holder: number): boolean {
    return Atomics.compareExchange(this.words, slot * WORDS + W_LOCK, 0, holder) === 0;
  }

  unlock(slot: number): void {
    Atomics.store(this.words, slot * WORDS + W_LOCK, 0);
  }

  /** Hands the slot to a new lane (main thread, before the worker hears of it). The previous holder
   * releases within one send, so the spin is short; it is bounded all the same. */
  claim(slot: number, gen: number): void {
    let locked = this.tryLock(slot, HOLDER_MAIN);
    for (let i = 0; i < 100_000_000 && !locked; i++) locked = this.tryLock(slot, HOLDER_MAIN);
    const w = slot * WORDS;
    // The generation goes first: from here on the worker leaves the slot's old lane alone.
    Atomics.store(this.words, w + W_GEN, gen);
    this.words[w + W_SEQ] = 0;
    this.forgetBoundary(slot);
    if (locked) this.unlock(slot);
  }

  /** The following read and write only while holding the lock. */
  gen(slot: number): number {
    return this.words[slot * WORDS + W_GEN]!;
  }

  seq(slot: number): number {
    return this.words[slot * WORDS + W_SEQ]! >>> 0;
  }

  setSeq(slot: number, seq: number): void {
    this.words[slot * WORDS + W_SEQ] = seq | 0;
  }

  /** When the lane's next frame may leave, with its π, phase and E in force (−∞: at once).
   * `phaseNs`: effectivePhaseNs() of the lane's spec. */
  nextBoundary(slot: number, periodNs: number, phaseNs: number, releaseJitterNs: number): number {
    return boundaryAfterNs(this.anchor[slot]!, periodNs, phaseNs, releaseJitterNs);
  }

  /** A frame left at `releasedNs`: moves the slot's grid on (engine/schedule.ts). */
  released(
    slot: number,
    releasedNs: number,
    periodNs: number,
    releaseJitterNs: number,
    phaseNs: number,
  ): void {
    const boundary = boundaryAfterNs(this.anchor[slot]!, periodNs, phaseNs, releaseJitterNs);
    this.anchor[slot] = gridAnchorNs(boundary, releasedNs, releaseJitterNs);
  }

  /** As if the lane had never released: its next frame may leave at once. */
  forgetBoundary(slot: number): void {
    this.anchor[slot] = Number.NEGATIVE_INFINITY;
  }

  /** A lane that cannot send (no socket) skips its boundary instead of spinning on it. */
  skip(slot: number, nowNs: number): void {
    this.anchor[slot] = nowNs;
  }
}
