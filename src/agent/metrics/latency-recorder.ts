// Per-lane latency histograms, filled on the delivery path without allocation: a lane's buckets
// are a preallocated Float64Array and recording is a short scan over ≤ 12 bounds. prom-client
// reads them only at scrape time. The buckets sit around the lane's own granted window, so the
// histogram answers the question that matters: how close to λ_max do messages come?
export interface LaneHistogram {
  /** Upper bounds (µs), ascending; +Inf is implicit. */
  boundsUs: number[];
  /** Same bounds in ns, for the hot path. */
  boundsNs: Float64Array;
  /** counts[i]: messages ≤ bounds[i] but > bounds[i-1]; the last slot is > every bound. */
  counts: Float64Array;
  sumNs: number;
  count: number;
  lambdaMinNs: number;
  lambdaMaxNs: number;
}

/** ½λmin, λmin, four steps across the window to λmax, then 1.25, 1.5, 2 and 4 × λmax (µs). */
export function latencyBucketsUs(lambdaMinNs: number, lambdaMaxNs: number): number[] {
  const lo = Math.max(0, lambdaMinNs);
  const hi = Math.max(lo, lambdaMaxNs);
  const d = hi - lo;
  const ns = [lo / 2, lo, lo + d / 4, lo + d / 2, lo + (3 * d) / 4, hi, hi * 1.25, hi * 1.5, hi * 2, hi * 4];
  const us = ns.map((x) => Math.round(x) / 1000).filter((x) => x > 0);
  return [...new Set(us)].sort((a, b) => a - b);
}

export class LatencyRecorder {
  private readonly lanes = new Map<string, LaneHistogram>();

  /** Sets a lane's window; its histogram restarts when the window moved (old buckets mean nothing). */
  configure(laneId: string, lambdaMinNs: number, lambdaMaxNs: number): void {
    const h = this.lanes.get(laneId);
    if (h && h.lambdaMinNs === lambdaMinNs && h.lambdaMaxNs === lambdaMaxNs) return;
    const boundsUs = latencyBucketsUs(lambdaMinNs, lambdaMaxNs);
    this.lanes.set(laneId, {
      boundsUs,
      boundsNs: Float64Array.from(boundsUs, (b) => b * 1000),
      counts: new Float64Array(boundsUs.length + 1),
      sumNs: 0,
      count: 0,
      lambdaMinNs,
      lambdaMaxNs,
    });
  }

  remove(laneId: string): void {
    this.lanes.delete(laneId);
  }

  /** Keeps only these lanes. */
  retain(laneIds: ReadonlySet<string>): void {
    for (const id of this.lanes.keys()) if (!laneIds.has(id)) this.lanes.delete(id);
  }

  record(laneId: string, latencyNs: number): void {
    const h = this.lanes.get(laneId);
    if (!h) return;
    const b = h.boundsNs;
    let i = 0;
    while (i < b.length && latencyNs > b[i]!) i++;
    h.counts[i]!++;
    h.sumNs += latencyNs;
    h.count++;
  }

  entries(): IterableIterator<[string, LaneHistogram]> {
    return this.lanes.entries();
  }
}
