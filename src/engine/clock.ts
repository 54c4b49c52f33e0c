// The engine's timestamps: CLOCK_MONOTONIC in ns, shared by every network namespace of a machine,
// so one-way latency in the testbed is exact. process.hrtime.bigint() reads that clock but
// allocates a BigInt per call; performance.now() reads the same clock (libuv's uv_hrtime) as a
// double relative to this thread's time origin, without allocating. We learn the origin once per
// thread and read performance.now() on the hot path.
import { ClockKind } from './wire/format.js';

export const LOCAL_CLOCK = ClockKind.MONOTONIC;

function calibrateOriginNs(): number {
  // The origin is a constant integer; take the sample with the tightest bracket to cancel the
  // time between the two reads.
  let best = 0;
  let bestWidth = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 64; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint());
    const b = performance.now();
    const width = b - a;
    if (width < bestWidth) {
      bestWidth = width;
      best = h - ((a + b) / 2) * 1e6;
    }
  }
  return Math.round(best);
}

const originNs = calibrateOriginNs();

/** CLOCK_MONOTONIC now, in ns (fractional part below a ns dropped). */
export function monotonicNs(): number {
  return Math.floor(originNs + performance.now() * 1e6);
}
