// How many of the heartbeats the members owed each other during the observation arrived: the
// plainest sign of a machine too loaded for any detector (a member whose heartbeats do not arrive
// is suspected, whichever detector watches it).
import type { Injection } from './fd-score.js';

/** Heartbeats received over every ordered pair (`received[observer][member]`), divided by those
 * owed: one per period while both ends were up. A crashed member counts as down from its crash
 * until it was told to send again (`reviveNs`; its start-up after that counts as up, so the share
 * errs low). null when nothing was owed. */
export function heartbeatShare(
  received: Record<string, Record<string, number>>,
  members: readonly string[],
  injections: readonly Injection[],
  window: { startNs: number; endNs: number },
  periodNs: number,
): number | null {
  const span = window.endNs - window.startNs;
  const down = new Map<string, number>();
  for (const i of injections) {
    const from = Math.max(i.crashNs, window.startNs);
    const to = Math.min(i.reviveNs, window.endNs);
    if (to > from) down.set(i.victim, (down.get(i.victim) ?? 0) + (to - from));
  }
  let owed = 0;
  let got = 0;
  for (const observer of members)
    for (const member of members) {
      if (member === observer) continue;
      // Both down at once is rare (one crash at a time) and would only make the share err low.
      owed += Math.max(0, span - (down.get(observer) ?? 0) - (down.get(member) ?? 0)) / periodNs;
      got += received[observer]?.[member] ?? 0;
    }
  return owed > 0 ? got / owed : null;
}
