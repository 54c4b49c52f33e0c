// The agent says so when a lane's frames leave late: from the engine's own counters, compared check
// by check, at most one line per lane and check. (The agent's timer: agent-controller.test.ts.)
import { describe, expect, it } from 'vitest';
import type { AgentLog } from '../../src/agent/log.js';
import { LATE_SHARE, LateReleaseWatch, MIN_FRAMES } from '../../src/agent/metrics/late-releases.js';
import { laneCounters } from './fake-engine.js';

function recordingLog() {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  const log: AgentLog = {
    info() {},
    warn(obj, msg) {
      warnings.push({ obj: obj as Record<string, unknown>, msg });
    },
    error() {},
  };
  return { log, warnings };
}

describe('LateReleaseWatch', () => {
  it('logs a lane whose frames since the last check left late in at least 10 % of cases', () => {
    const { log, warnings } = recordingLog();
    const w = new LateReleaseWatch(log);
    // The first check only takes the baseline, whatever the counters say.
    expect(w.check([laneCounters('L1', { sent: 500, lateReleases: 400 })])).toEqual([]);
    expect(
      w.check([laneCounters('L1', { sent: 1500, lateReleases: 600, maxReleaseDelayNs: 2_345_678 })]),
    ).toEqual(['L1']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.obj).toEqual({
      lane: 'L1',
      sent: 1000,
      lateReleases: 200,
      maxReleaseDelayUs: 2345.7,
    });
    expect(warnings[0]!.msg).toMatch(/^200 of 1000 frames left more than the release jitter/);
    expect(warnings[0]!.msg).toMatch(/sends below its contract/);
  });

  it('stays quiet below the share, for lanes that hardly sent, and across a lane reopened', () => {
    const { log, warnings } = recordingLog();
    const w = new LateReleaseWatch(log);
    w.check([laneCounters('L1'), laneCounters('L2'), laneCounters('L3')]);
    const justUnder = Math.ceil(1000 * LATE_SHARE) - 1;
    expect(
      w.check([
        laneCounters('L1', { sent: 1000, lateReleases: justUnder }),
        laneCounters('L2', { sent: MIN_FRAMES - 1, lateReleases: MIN_FRAMES - 1 }),
        laneCounters('L3', { sent: 5000, lateReleases: 4000 }),
      ]),
    ).toEqual(['L3']);
    // L3 closed and opened again: its counters start over, so there is no interval to judge.
    expect(w.check([laneCounters('L3', { sent: 200, lateReleases: 150 })])).toEqual([]);
    // The next interval of the new lane is judged again.
    expect(w.check([laneCounters('L3', { sent: 400, lateReleases: 350 })])).toEqual(['L3']);
    expect(warnings.map((x) => x.obj.lane)).toEqual(['L3', 'L3']);
  });

  it('forgets lanes that are gone: one that comes back starts with a baseline', () => {
    const { log } = recordingLog();
    const w = new LateReleaseWatch(log);
    w.check([laneCounters('L1', { sent: 100, lateReleases: 0 })]);
    w.check([]);
    expect(w.check([laneCounters('L1', { sent: 10_000, lateReleases: 9_000 })])).toEqual([]);
  });
});
