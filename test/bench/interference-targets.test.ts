// Issue 5's targets judged from the runs: each boundary on both sides, and null where a mode that a
// target compares is missing.
import { describe, expect, it } from 'vitest';
import { judgeTargets } from '../../src/bench/interference-targets.js';
import type { InterferenceMode, LaneLatencySummary } from '../../src/bench/interference-types.js';

function lane(lane: string, o: Partial<LaneLatencySummary> = {}): LaneLatencySummary {
  return {
    lane,
    name: lane,
    from: 'h1',
    to: 'h2',
    periodNs: 100_000,
    payloadBytes: 64,
    lambdaMinUs: 10,
    boundUs: 500,
    p50Us: 30,
    p99Us: 100,
    p999Us: 200,
    maxUs: 400,
    withinBound: 1,
    messages: 120_000,
    lost: 0,
    outliers: 0,
    tightness: 2.5,
    ...o,
  };
}

const run = (mode: InterferenceMode, bulkMbps: number, lanes: LaneLatencySummary[]) => ({
  mode,
  bulkMbps,
  lanes,
});

const good = () => [
  run('idle', 0, [lane('L1'), lane('L2')]),
  run('express', 940, [lane('L1', { p99Us: 150 }), lane('L2', { p99Us: 150 })]),
  run('fifo', 940, [
    lane('L1', { p99Us: 1500, withinBound: 0.01 }),
    lane('L2', { p99Us: 1500, withinBound: 0.01 }),
  ]),
];

describe('judgeTargets', () => {
  it('passes every target at its boundary', () => {
    expect(judgeTargets(good(), 1000)).toEqual({
      expressP99AtMost1_5xIdle: true,
      fifoP99AtLeast10xExpress: true,
      withinBoundAtLeast99_99: true,
      tightnessAtMost5: true,
      bulkWithin10PctOfLink: true,
      atLeast100kMessagesPerLane: true,
    });
  });

  it('fails each target just past its boundary, on one lane of one mode', () => {
    const cases: [keyof ReturnType<typeof judgeTargets>, (r: ReturnType<typeof good>) => void][] = [
      ['expressP99AtMost1_5xIdle', (r) => (r[0]!.lanes[1]!.p99Us = 99.9)],
      ['fifoP99AtLeast10xExpress', (r) => (r[2]!.lanes[0]!.p99Us = 1499)],
      ['withinBoundAtLeast99_99', (r) => (r[0]!.lanes[1]!.withinBound = 0.99989)],
      ['tightnessAtMost5', (r) => (r[1]!.lanes[0]!.tightness = 5.01)],
      ['bulkWithin10PctOfLink', (r) => (r[2]!.bulkMbps = 899)],
      ['atLeast100kMessagesPerLane', (r) => (r[2]!.lanes[0]!.messages = 99_999)],
    ];
    for (const [target, spoil] of cases) {
      const runs = good();
      spoil(runs);
      const t = judgeTargets(runs, 1000);
      expect(t[target], target).toBe(false);
      // Only that one: the cases are independent.
      expect(Object.values(t).filter((v) => v === false)).toHaveLength(1);
    }
  });

  it('fails a lane with no messages (NaN figures), and one missing from a compared mode', () => {
    const empty = good();
    empty[1]!.lanes[0] = lane('L1', {
      messages: 0,
      p99Us: Number.NaN,
      withinBound: Number.NaN,
      tightness: Number.NaN,
    });
    const t = judgeTargets(empty, 1000);
    expect(t.expressP99AtMost1_5xIdle).toBe(false);
    expect(t.withinBoundAtLeast99_99).toBe(false);
    expect(t.tightnessAtMost5).toBe(false);
    const missing = good();
    missing[0]!.lanes.pop();
    expect(judgeTargets(missing, 1000).expressP99AtMost1_5xIdle).toBe(false);
  });

  it('is null where the runs cannot judge a target', () => {
    const onlyExpress = [good()[1]!];
    expect(judgeTargets(onlyExpress, undefined)).toEqual({
      expressP99AtMost1_5xIdle: null,
      fifoP99AtLeast10xExpress: null,
      withinBoundAtLeast99_99: true,
      tightnessAtMost5: true,
      bulkWithin10PctOfLink: null,
      atLeast100kMessagesPerLane: true,
    });
    expect(judgeTargets([good()[0]!], 1000).bulkWithin10PctOfLink).toBeNull();
  });
});
