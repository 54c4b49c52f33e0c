// The learned spin margin (spinUs 'auto') of the js engine's pacing worker: how long before a
// boundary or deadline it stops sleeping and spins. A fixed margin fits one machine only: a timed
// wake-up ends ~5 µs late on some VMs and 40-100 µs late on others (docs/native-engine.md). The
// worker records how late each of its timed sleeps ended and spins for a high quantile of that.
//
// The same algorithm, integer for integer, is native/wake_margin.h (the native engine thread);
// test/engine/wake-margin.test.ts feeds both the same sequences. Keep them in step. Fixed memory,
// no allocation per call: it runs in the pacing loop.

export const WM_WINDOW = 1024;
export const WM_BUCKETS = 1024;
export const WM_EVERY = 64;
export const WM_MIN_SAMPLES = 64;
export const WM_QUANTILE_PERMILLE = 999;
export const WM_GUARD_NS = 5000;
/** A margin as long as the gaps between boundaries leaves no sleep to learn from, and so could never
 * come down again: after WM_PROBE_AFTER_NS without a sample, the loop takes one sleep of
 * WM_PROBE_SLEEP_NS anyway, where the gap to the next boundary is at least half the margin. */
export const WM_PROBE_AFTER_NS = 10_000_000;
export const WM_PROBE_SLEEP_NS = 1000;

/** Whether the loop should take a probe sleep now (see WM_PROBE_AFTER_NS). */
export function probeDue(sinceSampleNs: number, gapNs: number, marginNs: number): boolean {
  return sinceSampleNs >= WM_PROBE_AFTER_NS && 2 * gapNs >= marginNs;
}

/** Bounds of a learned margin when the options give none (ns): from 5 µs, so a quiet machine still
 * spins a little, to 100 µs, a whole period of the shortest lanes. */
export const AUTO_SPIN_MIN_NS = 5_000;
export const AUTO_SPIN_MAX_NS = 100_000;

export class WakeMargin {
  /** What the loop uses now (ns). */
  marginNs: number;
  /** The last computed quantile of the lateness (upper edge of its µs bucket); -1 before the first. */
  quantileNs = -1;
  /** Every sample recorded. */
  samples = 0;
  private filled = 0;
  private next = 0;
  private readonly ring = new Uint16Array(WM_WINDOW);
  private readonly counts = new Uint16Array(WM_BUCKETS);

  constructor(
    initialNs: number,
    readonly minNs: number,
    readonly maxNs: number,
  ) {
    this.marginNs = clamp(initialNs, minNs, maxNs);
  }

  /** One timed sleep ended `lateNs` after the instant it was asked to end at (negative: early). */
  record(lateNs: number): void {
    const us = lateNs <= 0 ? 0 : Math.floor(lateNs / 1000);
    const b = Math.min(us, WM_BUCKETS - 1);
    if (this.filled === WM_WINDOW) this.counts[this.ring[this.next]!]!--;
    else this.filled++;
    this.ring[this.next] = b;
    this.counts[b]!++;
    this.next = (this.next + 1) % WM_WINDOW;
    this.samples++;
    if (this.filled >= WM_MIN_SAMPLES && this.samples % WM_EVERY === 0) this.recompute();
  }

  private recompute(): void {
    // Nearest rank: the smallest bucket whose cumulative count reaches ceil(q × n).
    const rank = Math.max(1, Math.floor((this.filled * WM_QUANTILE_PERMILLE + 999) / 1000));
    let seen = 0;
    let b = 0;
    for (; b < WM_BUCKETS; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) break;
    }
    if (b >= WM_BUCKETS - 1) {
      this.quantileNs = (WM_BUCKETS - 1) * 1000;
      this.marginNs = this.maxNs;
    } else {
      this.quantileNs = (b + 1) * 1000;
      this.marginNs = clamp(this.quantileNs + WM_GUARD_NS, this.minNs, this.maxNs);
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
