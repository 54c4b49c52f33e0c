// Percentiles for benchmark samples (nearest-rank on the sorted samples).
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
