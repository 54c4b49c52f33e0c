// Which application callbacks a grant change fires: the paper's on_timeout_changed (a receiver's
// latency window moved, so a failure detector's deterministic timeout moves with it) and
// on_pbsize_changed (σ_max changed), plus the period. Pure, so it is tested on its own.
import type { Grant } from '../alloc/types.js';
import { failureTimeoutNs } from '../fd/timeout.js';

export interface TimeoutChange {
  receiver: string;
  lambdaMinNs: number;
  lambdaMaxNs: number;
  previous: { lambdaMinNs: number; lambdaMaxNs: number } | undefined;
  /** FiDe's deterministic failure-detection timeout for this receiver: π_min + λ_min + 2·δ
   * (at least π_min + 2E + δ, see fd/timeout.ts). */
  timeoutNs: number;
}

export interface GrantDiff {
  timeouts: TimeoutChange[];
  payload?: { maxPayloadBytes: number; previous: number };
  period?: { minPeriodNs: number; previous: number };
}

// The formula lives with the failure detector; re-exported here, where lanes' callbacks use it.
export { failureTimeoutNs };

export function diffGrants(before: Grant, after: Grant): GrantDiff {
  const out: GrantDiff = { timeouts: [] };
  const old = new Map(before.receivers.map((r) => [r.host, r]));
  for (const r of after.receivers) {
    const p = old.get(r.host);
    // E enters the timeout too (fd/timeout.ts).
    const periodMoved =
      before.minPeriodNs !== after.minPeriodNs ||
      (before.releaseJitterNs ?? 0) !== (after.releaseJitterNs ?? 0);
    if (p && p.lambdaMinNs === r.lambdaMinNs && p.lambdaMaxNs === r.lambdaMaxNs && !periodMoved) continue;
    out.timeouts.push({
      receiver: r.host,
      lambdaMinNs: r.lambdaMinNs,
      lambdaMaxNs: r.lambdaMaxNs,
      previous: p ? { lambdaMinNs: p.lambdaMinNs, lambdaMaxNs: p.lambdaMaxNs } : undefined,
      timeoutNs: failureTimeoutNs(after, r.host) ?? 0,
    });
  }
  if (before.maxPayloadBytes !== after.maxPayloadBytes) {
    out.payload = { maxPayloadBytes: after.maxPayloadBytes, previous: before.maxPayloadBytes };
  }
  if (before.minPeriodNs !== after.minPeriodNs) {
    out.period = { minPeriodNs: after.minPeriodNs, previous: before.minPeriodNs };
  }
  return out;
}
