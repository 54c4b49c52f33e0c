// The engine's timestamps: CLOCK_MONOTONIC in ns, shared by every network namespace of a machine,
// so one-way latency in the testbed is exact. Read through process.hrtime(): its [s, ns] pair is
// escape-analysed away in optimised code, so a clock read allocates nothing. The obvious
// alternatives do allocate on every call — process.hrtime.bigint() a BigInt, and performance.now()
// a heap number (measured: a worker spinning on performance.now() made ~67 MB/s of garbage and a
// 0.3 ms scavenge every 60 ms, which is what its pacing tail was made of).
import { ClockKind } from './wire/format.js';

export const LOCAL_CLOCK = ClockKind.MONOTONIC;

/** CLOCK_MONOTONIC now, in ns: exact for the first 104 days of uptime (2^53 ns), to 2 ns after. */
export function monotonicNs(): number {
  const t = process.hrtime();
  return t[0]! * 1e9 + t[1]!;
}

/**
 * CLOCK_REALTIME − CLOCK_MONOTONIC now, in ns: what turns a grant's phase (on the realtime clock,
 * which PTP or NTP keeps common to all hosts) into the monotonic residue the engines pace by. Node
 * reads the realtime clock only in whole ms (Date.now()), so this waits for the ms to tick over and
 * reads the monotonic clock right after: the estimate is low by the time between the tick and that
 * read, so the largest of a few samples is kept (µs-accurate on an idle CPU). Blocks for up to
 * `samples` ms: call it at start-up or rarely, never per packet.
 */
export function measureRealtimeOffsetNs(samples = 3): bigint {
  let best: bigint | undefined;
  for (let s = 0; s < samples; s++) {
    const start = Date.now();
    // Bounded: a stopped or stepped realtime clock must not hang the caller.
    const limit = process.hrtime.bigint() + 5_000_000n;
    for (;;) {
      const ms = Date.now();
      const mono = process.hrtime.bigint();
      if (ms !== start) {
        const estimate = BigInt(ms) * 1_000_000n - mono;
        if (best === undefined || estimate > best) best = estimate;
        break;
      }
      if (mono > limit) break;
    }
  }
  return best ?? BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/** A realtime offset for phases that stays put: measured on first use, re-measured at most every
 * `maxAgeMs`, and moved only when the clock was stepped (a change beyond `stepNs`), so measurement
 * noise never changes a lane's phase — which would re-configure its sender. */
export class RealtimeOffset {
  private value: bigint | undefined;
  private measuredAt = 0;

  constructor(
    private readonly measure: () => bigint = measureRealtimeOffsetNs,
    private readonly maxAgeMs = 60_000,
    private readonly stepNs = 100_000n,
    private readonly now: () => number = Date.now,
  ) {}

  get(): bigint {
    if (this.value === undefined) {
      this.value = this.measure();
      this.measuredAt = this.now();
    } else if (this.now() - this.measuredAt >= this.maxAgeMs) {
      const fresh = this.measure();
      this.measuredAt = this.now();
      const moved = fresh > this.value ? fresh - this.value : this.value - fresh;
      if (moved > this.stepNs) this.value = fresh;
    }
    return this.value;
  }
}
