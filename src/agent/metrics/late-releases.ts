// Lanes whose engine releases many frames late are logged. A lane that is late at most of its
// boundaries sends well below its contract (docs/operations.md, "A lane that sends less than its
// contract"), and an operator who does not scrape /metrics would not know. Checked on a timer from
// counters the engine keeps anyway; at most one line per lane and check.
import { LATE_RELEASE_FLOOR_NS } from '../../engine/schedule.js';
import type { LaneCounters } from '../../engine/types.js';
import type { AgentLog } from '../log.js';

/** A lane is logged when at least this share of the frames it sent since the last check ... */
export const LATE_SHARE = 0.1;
/** ... left late, out of at least this many (a lane that hardly sent says nothing). */
export const MIN_FRAMES = 100;

export class LateReleaseWatch {
  private readonly last = new Map<string, { sent: number; late: number }>();

  constructor(private readonly log: AgentLog) {}

  /** Compares each lane's counters with the previous check's; returns the lanes it logged. */
  check(lanes: readonly LaneCounters[]): string[] {
    const seen = new Set<string>();
    const logged: string[] = [];
    for (const l of lanes) {
      seen.add(l.laneId);
      const before = this.last.get(l.laneId);
      this.last.set(l.laneId, { sent: l.sent, late: l.lateReleases });
      if (!before) continue;
      const sent = l.sent - before.sent;
      const late = l.lateReleases - before.late;
      // Counters that went back belong to a lane closed and opened again: no interval to judge.
      if (sent < MIN_FRAMES || late < 0 || late / sent < LATE_SHARE) continue;
      logged.push(l.laneId);
      this.log.warn(
        {
          lane: l.laneId,
          sent,
          lateReleases: late,
          maxReleaseDelayUs: Math.round(l.maxReleaseDelayNs / 100) / 10,
        },
        `${late} of ${sent} frames left more than the release jitter (at least ${LATE_RELEASE_FLOOR_NS / 1000} µs) after their ` +
          'boundary since the last check: the lane sends below its contract (late wake-ups or stalls of the engine thread; ' +
          'docs/operations.md, "A lane that sends less than its contract")',
      );
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
    return logged;
  }
}
