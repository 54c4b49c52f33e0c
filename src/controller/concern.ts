// Which hosts a grant concerns, and which of them must acknowledge a change before a new lane may
// send (the safe change order of docs/api.md). Pure functions: the lifecycle and its tests share them.
import type { Grant, GrantChange } from '../alloc/types.js';

/** The sender and every receiver of a lane: the hosts whose watch stream carries its grant. */
export function hostsOf(grant: Grant): string[] {
  return [...new Set([grant.sender, ...grant.receivers.map((r) => r.host)])];
}

/**
 * Hosts that must hold a change before the lane that caused it may send (besides the new lane's own
 * receivers, which must know the lane before its frames arrive):
 * - the sender of a re-tuned lane (smaller σ_max, longer π_min or another release jitter E): until
 *   it paces to the new contract its old traffic could overrun the bound computed for the newcomer;
 * - the receivers of a lane whose window (or path, hence window) moved: a failure detector there
 *   would otherwise time out against the old, now too narrow, λ_max.
 */
export function ackersFor(change: GrantChange): string[] {
  const out = new Set<string>();
  if (change.reasons.some((r) => r === 'payload' || r === 'period' || r === 'release'))
    out.add(change.after.sender);
  if (change.reasons.includes('window') || change.reasons.includes('path')) {
    for (const r of change.after.receivers) out.add(r.host);
  }
  return [...out];
}
