// Single-producer/single-consumer ring of send requests in a SharedArrayBuffer. The producer writes
// a slot, then publishes it by storing the head index; the consumer reads it, then frees it by
// storing the tail index. Atomics.store/load order those writes between threads.
import { C_HEAD, C_TAIL, C_WAKE, RING_SLOTS, SLOT_BYTES, SLOT_HEADER_WORDS } from './shared.js';

const MASK = RING_SLOTS - 1;
const SLOT_WORDS = SLOT_BYTES / 4;
const PAYLOAD_AT = SLOT_HEADER_WORDS * 4;

export class RingProducer {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(
    private readonly control: Int32Array,
    ring: SharedArrayBuffer,
  ) {
    this.words = new Int32Array(ring);
    this.bytes = new Uint8Array(ring);
  }

  /** Queues one request and wakes the consumer. Returns the request's position (see taken()), or
   * -1 when the ring is full. */
  push(laneSlot: number, gen: number, ticket: number, payload: Uint8Array): number {
    const head = Atomics.load(this.control, C_HEAD);
    const tail = Atomics.load(this.control, C_TAIL);
    if (((head - tail) | 0) >= RING_SLOTS) return -1;
    const i = head & MASK;
    const w = i * SLOT_WORDS;
    this.words[w] = laneSlot;
    this.words[w + 1] = gen;
    this.words[w + 2] = ticket;
    this.words[w + 3] = payload.byteLength;
    this.bytes.set(payload, i * SLOT_BYTES + PAYLOAD_AT);
    Atomics.store(this.control, C_HEAD, (head + 1) | 0);
    wake(this.control);
    return head >>> 0;
  }

  /** Whether the consumer has taken the request pushed at `position`. */
  taken(position: number): boolean {
    return ((Atomics.load(this.control, C_TAIL) - position) | 0) > 0;
  }
}

export function wake(control: Int32Array): void {
  Atomics.add(control, C_WAKE, 1);
  Atomics.notify(control, C_WAKE);
}

/** The request the consumer is looking at; fields are valid until next(). */
export class RingConsumer {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private index = 0;
  laneSlot = 0;
  gen = 0;
  ticket = 0;
  length = 0;

  constructor(
    private readonly control: Int32Array,
    ring: SharedArrayBuffer,
  ) {
    this.words = new Int32Array(ring);
    this.bytes = new Uint8Array(ring);
  }

  /** Loads the oldest request; false when the ring is empty. */
  peek(): boolean {
    const tail = Atomics.load(this.control, C_TAIL);
    if (tail === Atomics.load(this.control, C_HEAD)) return false;
    this.index = tail & MASK;
    const w = this.index * SLOT_WORDS;
    this.laneSlot = this.words[w]!;
    this.gen = this.words[w + 1]!;
    this.ticket = this.words[w + 2]!;
    this.length = this.words[w + 3]!;
    return true;
  }

  /** Copies the current request's payload into `dest` at `at` (a byte loop: a subarray() view would
   * allocate, and this runs in the worker that must not trigger GC). */
  copyPayload(dest: Uint8Array, at: number): void {
    const src = this.bytes;
    const from = this.index * SLOT_BYTES + PAYLOAD_AT;
    for (let k = 0; k < this.length; k++) dest[at + k] = src[from + k]!;
  }

  /** Frees the current slot. */
  next(): void {
    Atomics.store(this.control, C_TAIL, (Atomics.load(this.control, C_TAIL) + 1) | 0);
  }
}
