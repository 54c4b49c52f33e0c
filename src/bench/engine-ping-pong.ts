// One side of a ping-pong: sends a ping, takes the round-trip time when the matching reply comes
// back, sends the next ping from inside the reply callback. The transport (lane engine or plain
// dgram) is a send function plus a call to reply(), so both are measured by the same code.
// Nothing is allocated per round trip: the payload buffer is reused and samples go into a
// preallocated Float64Array, so GC does not show up in the tail it measures.
import { monotonicNs } from '../engine/clock.js';

/** A ping whose reply has not come back after this long is counted lost and sent again. */
export const RETRY_NS = 200_000_000;
const WATCHDOG_MS = 20;

export class PingPong {
  /** Round-trip times (ns); the first `recorded` are valid, across every run() since reserve(). */
  samples = new Float64Array(0);
  recorded = 0;
  lost = 0;
  private id = 0;
  private t0 = 0;
  private target = 0;
  private warm = 0;
  private deadlineMs = 0;
  private active = false;
  private finish: ((e?: unknown) => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly payload: Buffer,
    private readonly send: (payload: Buffer) => void,
  ) {}

  /** Starts a new measurement with room for `capacity` samples. */
  reserve(capacity: number): void {
    this.samples = new Float64Array(capacity);
    this.recorded = 0;
    this.lost = 0;
  }

  /** Sends `warmup` unrecorded round trips, then records up to `count` more; stops early at
   * `deadlineMs` (Date.now() time). Rejects if the transport's send throws. */
  run(count: number, warmup: number, deadlineMs: number): Promise<void> {
    if (this.active) return Promise.reject(new Error('ping-pong already running'));
    this.target = Math.min(this.samples.length, this.recorded + count);
    this.warm = warmup;
    this.deadlineMs = deadlineMs;
    if (this.isDone()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.active = true;
      this.finish = (e) => {
        this.active = false;
        clearInterval(this.watchdog);
        this.finish = undefined;
        if (e === undefined) resolve();
        else reject(e);
      };
      this.watchdog = setInterval(() => this.check(), WATCHDOG_MS);
      this.fire();
    });
  }

  /** Called by the transport with the id carried back in the reply's payload. */
  reply(id: number): void {
    const now = monotonicNs();
    if (!this.active || id !== this.id) return; // a late reply to a ping already given up
    if (this.warm > 0) this.warm--;
    else this.samples[this.recorded++] = now - this.t0;
    if (this.isDone()) this.finish!();
    else this.fire();
  }

  private isDone(): boolean {
    return (this.warm === 0 && this.recorded >= this.target) || Date.now() >= this.deadlineMs;
  }

  private fire(): void {
    this.id = (this.id + 1) >>> 0;
    this.payload.writeUInt32LE(this.id, 0);
    this.t0 = monotonicNs();
    try {
      this.send(this.payload);
    } catch (e) {
      this.finish!(e);
    }
  }

  private check(): void {
    if (!this.active) return;
    if (Date.now() >= this.deadlineMs) {
      this.finish!();
      return;
    }
    if (monotonicNs() - this.t0 > RETRY_NS) {
      this.lost++;
      this.fire();
    }
  }
}

/** The ping id the bench puts in the first 4 bytes of every payload. */
export function pingId(payload: Uint8Array): number {
  return (payload[0]! | (payload[1]! << 8) | (payload[2]! << 16) | (payload[3]! << 24)) >>> 0;
}
