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

/** A measured CLOCK_REALTIME − CLOCK_MONOTONIC: the estimate and the half-width of the interval
 * that is known to hold the true value (absent a clock step or slew during the measurement). */
export interface RealtimeOffsetMeasurement {
  offsetNs: bigint;
  uncertaintyNs: bigint;
}

/** The two clocks the measurement reads; a test gives it a simulated machine. */
export interface OffsetClocks {
  /** CLOCK_REALTIME in whole ms (Date.now()). */
  realtimeMs(): number;
  /** CLOCK_MONOTONIC in ns. */
  monotonicNs(): bigint;
}

const systemClocks: OffsetClocks = { realtimeMs: Date.now, monotonicNs: process.hrtime.bigint };

/**
 * CLOCK_REALTIME − CLOCK_MONOTONIC now, bracketed: what turns a grant's phase (on the realtime
 * clock, which PTP or NTP keeps common to all hosts) into the monotonic residue the engines pace
 * by. Node reads the realtime clock only in whole ms (Date.now()), so this waits for the ms to
 * tick over. The tick happened between the last Date.now() that returned the old ms and the first
 * that returned the new one, so the monotonic reads around those two calls bound it: each sample
 * is an interval that holds the true offset, however long the thread was preempted (a preempted
 * sample is merely wide). Samples are intersected until the interval is `targetNs` wide or
 * `maxSamples` were taken; a load that only ever widens samples costs accuracy, never a wrong
 * interval. Blocks for about a ms per sample (5 ms at most): call it at start-up or rarely, never
 * per packet.
 */
export function measureRealtimeOffset(
  maxSamples = 8,
  targetNs = 2_000n,
  clocks: OffsetClocks = systemClocks,
): RealtimeOffsetMeasurement {
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  let narrowest: { lo: bigint; hi: bigint } | undefined;
  for (let s = 0; s < maxSamples; s++) {
    // Read before the first realtime read: the tick may come right after it.
    let beforeOld = clocks.monotonicNs();
    const start = clocks.realtimeMs();
    // Bounded: a stopped or stepped realtime clock must not hang the caller.
    const limit = beforeOld + 5_000_000n;
    for (;;) {
      const before = clocks.monotonicNs();
      const ms = clocks.realtimeMs();
      const after = clocks.monotonicNs();
      if (ms !== start) {
        // The instant the realtime clock read `ms` ms lies between the previous read (which
        // returned less) and this one, however many ms a stall skipped; a clock stepped back
        // brackets nothing.
        if (ms > start) {
          const tick = BigInt(ms) * 1_000_000n;
          const sample = { lo: tick - after, hi: tick - beforeOld };
          if (!narrowest || sample.hi - sample.lo < narrowest.hi - narrowest.lo) narrowest = sample;
          lo = lo === undefined || sample.lo > lo ? sample.lo : lo;
          hi = hi === undefined || sample.hi < hi ? sample.hi : hi;
        }
        break;
      }
      beforeOld = before;
      if (after > limit) break;
    }
    if (lo !== undefined && hi !== undefined && lo <= hi && hi - lo <= targetNs) break;
  }
  // Disjoint samples mean the clocks moved apart while measuring (slew or step): trust the
  // narrowest one alone.
  const interval = lo !== undefined && hi !== undefined && lo <= hi ? { lo, hi } : narrowest;
  if (!interval) {
    return {
      offsetNs: BigInt(clocks.realtimeMs()) * 1_000_000n - clocks.monotonicNs(),
      uncertaintyNs: 1_000_000n,
    };
  }
  return { offsetNs: (interval.lo + interval.hi) / 2n, uncertaintyNs: (interval.hi - interval.lo + 1n) / 2n };
}

/** measureRealtimeOffset's estimate alone. */
export function measureRealtimeOffsetNs(maxSamples?: number): bigint {
  return measureRealtimeOffset(maxSamples).offsetNs;
}

/** A realtime offset for phases that stays put: measured on first use, re-measured by get() at most
 * every `maxAgeMs` (or fed a measurement taken elsewhere through offer()), and moved only when the
 * fresh measurement's interval excludes the held one (beyond `slackNs`: the clock was stepped) or,
 * when the held one is wider than `slackNs`, is less than half as wide (a better value after a
 * measurement a load had widened). Noise alone never changes a lane's phase — which would
 * re-configure its sender — and a step beyond the measurements' error is followed. */
export class RealtimeOffset {
  private held: RealtimeOffsetMeasurement | undefined;
  private measuredAt = 0;
  private moves = 0;

  constructor(
    private readonly measure: () => RealtimeOffsetMeasurement = () => measureRealtimeOffset(),
    private readonly maxAgeMs = 60_000,
    private readonly slackNs = 1_000n,
    private readonly now: () => number = Date.now,
  ) {}

  get(): bigint {
    if (this.held === undefined || this.now() - this.measuredAt >= this.maxAgeMs) this.offer(this.measure());
    return this.held!.offsetNs;
  }

  /** A fresh measurement; true when the value moved (the first one does not count as a move). */
  offer(fresh: RealtimeOffsetMeasurement): boolean {
    this.measuredAt = this.now();
    const held = this.held;
    if (held === undefined) {
      this.held = fresh;
      return false;
    }
    const moved =
      fresh.offsetNs > held.offsetNs ? fresh.offsetNs - held.offsetNs : held.offsetNs - fresh.offsetNs;
    const stepped = moved > fresh.uncertaintyNs + held.uncertaintyNs + this.slackNs;
    // Refined only from a held value wider than the slack: sub-µs gains are not worth a re-configuration.
    const better = held.uncertaintyNs > this.slackNs && 2n * fresh.uncertaintyNs < held.uncertaintyNs;
    if (!stepped && !better) return false;
    this.held = fresh;
    this.moves++;
    return true;
  }

  /** The measurement in use (undefined until first needed), without measuring. */
  current(): RealtimeOffsetMeasurement | undefined {
    return this.held;
  }

  /** How often the value moved after the first measurement (clock steps, refinements). */
  changes(): number {
    return this.moves;
  }
}
