// After a bound pass: which constraints fail. Every port must keep express traffic within its share
// and its backlog within its buffer; every lane with a deadline must have λ_max ≤ deadline.
import { CAPACITY_EPS, evaluate } from './evaluate.js';
import type { FabricState, LaneRec } from './state.js';

export type ViolationReason = 'share' | 'buffer' | 'deadline' | 'unstable';

export interface Infeasibility {
  reason: ViolationReason;
  port: number;
  /** share: Σr vs share (bytes/ns); buffer: backlog vs buffer (bytes); deadline: λ_max vs deadline (ns). */
  value: number;
  limit: number;
  lane?: LaneRec;
}

/** The port of a lane's tree with the largest delay: the one to name when a deadline is missed. */
export function worstPortOf(s: FabricState, rec: LaneRec): number {
  let best = rec.ports[0]!;
  for (const p of rec.ports) if (s.portDelay[p]! > s.portDelay[best]!) best = p;
  return best;
}

/** Brings the bounds up to date and lists every failed constraint (empty: the state is admissible). */
export function assess(s: FabricState): Infeasibility[] {
  evaluate(s);
  const out: Infeasibility[] = [];
  const g = s.g;
  if (s.unstablePort >= 0) {
    const p = s.unstablePort;
    out.push({ reason: 'unstable', port: p, value: s.portDelay[p]!, limit: 0 });
  }
  for (const p of s.overloaded) {
    const rate = s.portRate[p]!;
    const share = g.shareBytesPerNs[p]!;
    if (rate > share * (1 + CAPACITY_EPS)) out.push({ reason: 'share', port: p, value: rate, limit: share });
    const backlog = s.portBacklog[p]!;
    const buffer = g.bufferBytes[p]!;
    if (backlog > buffer * (1 + CAPACITY_EPS))
      out.push({ reason: 'buffer', port: p, value: backlog, limit: buffer });
  }
  if (s.unstablePort >= 0) return out;
  for (const rec of s.late) {
    let bound = 0;
    for (let k = 0; k < rec.receivers.length; k++) bound = Math.max(bound, s.boundOf(rec, k));
    out.push({ reason: 'deadline', port: worstPortOf(s, rec), value: bound, limit: rec.deadline, lane: rec });
  }
  return out;
}

/** The violation to report: overloaded ports first (the root cause), then buffers, deadlines, cycles. */
export function primary(violations: Infeasibility[]): Infeasibility | undefined {
  const rank: Record<ViolationReason, number> = { share: 0, buffer: 1, deadline: 2, unstable: 3 };
  let best: Infeasibility | undefined;
  for (const v of violations) {
    if (
      !best ||
      rank[v.reason] < rank[best.reason] ||
      (rank[v.reason] === rank[best.reason] && v.value / v.limit > best.value / best.limit)
    )
      best = v;
  }
  return best;
}
