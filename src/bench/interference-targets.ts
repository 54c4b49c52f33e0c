// Issue 5's targets, judged from one invocation's runs, so a reader of `--json` (or of
// interference.json) sees which held without redoing the arithmetic. Pure: the runs in, booleans
// out; null where the runs needed to judge a target are not there (e.g. `--modes express`).
import type { InterferenceRunSummary, LaneLatencySummary } from './interference-types.js';

export const TARGETS = {
  /** express p99 ≤ 1.5 × idle p99, per lane */
  expressOverIdleP99: 1.5,
  /** fifo p99 ≥ 10 × express p99, per lane */
  fifoOverExpressP99: 10,
  /** fraction of messages within [λ_min, λ_max], idle and express */
  withinBound: 0.9999,
  /** λ_max ÷ p99.9, idle and express */
  tightness: 5,
  /** bulk goodput ≥ 90 % of the bottleneck link's rate, in every mode with bulk */
  bulkShareOfLink: 0.9,
  /** messages measured per lane and mode */
  messages: 100_000,
} as const;

export interface InterferenceTargets {
  expressP99AtMost1_5xIdle: boolean | null;
  fifoP99AtLeast10xExpress: boolean | null;
  withinBoundAtLeast99_99: boolean | null;
  tightnessAtMost5: boolean | null;
  bulkWithin10PctOfLink: boolean | null;
  atLeast100kMessagesPerLane: boolean | null;
}

/** Runs as the bench returns them; `linkMbps` is the bottleneck's rate (undefined: not known). */
export function judgeTargets(
  runs: readonly (Pick<InterferenceRunSummary, 'mode' | 'bulkMbps'> & {
    lanes: readonly LaneLatencySummary[];
  })[],
  linkMbps: number | undefined,
): InterferenceTargets {
  const byMode = new Map(runs.map((r) => [r.mode, r]));
  const idle = byMode.get('idle');
  const express = byMode.get('express');
  const fifo = byMode.get('fifo');
  const guarded = [idle, express].filter((r) => r !== undefined);
  const bulkRuns = [express, fifo].filter((r) => r !== undefined);
  // A comparison per lane of `a` against the same lane in `b`; a lane missing in `b` fails it.
  const perLane = (
    a: typeof express,
    b: typeof express,
    ok: (x: LaneLatencySummary, y: LaneLatencySummary) => boolean,
  ) => {
    if (!a || !b || a.lanes.length === 0) return null;
    return a.lanes.every((x) => {
      const y = b.lanes.find((l) => l.lane === x.lane);
      return y !== undefined && ok(x, y);
    });
  };
  const everyLane = (rs: typeof guarded, ok: (l: LaneLatencySummary) => boolean) =>
    rs.length === 0 ? null : rs.every((r) => r.lanes.length > 0 && r.lanes.every(ok));
  return {
    // NaN (a lane with no messages) compares false: an empty lane fails, as it should.
    expressP99AtMost1_5xIdle: perLane(
      express,
      idle,
      (e, i) => e.p99Us <= TARGETS.expressOverIdleP99 * i.p99Us,
    ),
    fifoP99AtLeast10xExpress: perLane(
      fifo,
      express,
      (f, e) => f.p99Us >= TARGETS.fifoOverExpressP99 * e.p99Us,
    ),
    withinBoundAtLeast99_99: everyLane(guarded, (l) => l.withinBound >= TARGETS.withinBound),
    tightnessAtMost5: everyLane(guarded, (l) => l.tightness <= TARGETS.tightness),
    bulkWithin10PctOfLink:
      bulkRuns.length === 0 || !(linkMbps !== undefined && linkMbps > 0)
        ? null
        : bulkRuns.every((r) => r.bulkMbps >= TARGETS.bulkShareOfLink * linkMbps),
    atLeast100kMessagesPerLane: everyLane(
      runs.filter((r) => r !== undefined),
      (l) => l.messages >= TARGETS.messages,
    ),
  };
}
