// How long a mode records and the bulk rate over the recording, from made-up progress.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bulkMbpsIn,
  bulkSeries,
  expectedRecordingSec,
  keepRecording,
} from '../../src/bench/interference-recording.js';

const O = { seconds: 12, minMessages: 100_000, maxSeconds: 40 };

describe('keepRecording', () => {
  it('records at least `seconds`, whatever the counts', () => {
    expect(keepRecording(0, [], O)).toBe(true);
    expect(keepRecording(11.9, [200_000, 200_000], O)).toBe(true);
  });

  it('then goes on until the slowest lane has its messages', () => {
    expect(keepRecording(12, [120_000, 99_999], O)).toBe(true);
    expect(keepRecording(18, [120_000, 100_000], O)).toBe(false);
  });

  it('stops at maxSeconds with too few messages, and without lanes to wait for', () => {
    expect(keepRecording(40, [60_000, 70_000], O)).toBe(false);
    expect(keepRecording(12, [], O)).toBe(false);
    expect(keepRecording(12, [10], { ...O, minMessages: 0 })).toBe(false);
  });

  it('never stops before `seconds` nor runs past maxSeconds', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.array(fc.nat(1_000_000), { maxLength: 4 }),
        (t, counts) => {
          const go = keepRecording(t, counts, O);
          if (t < O.seconds) expect(go).toBe(true);
          if (t >= O.maxSeconds) expect(go).toBe(false);
        },
      ),
    );
  });
});

describe('expectedRecordingSec', () => {
  it('extrapolates the slowest lane to minMessages, between seconds and maxSeconds', () => {
    // 5,000 a second: 20 s to reach 100,000.
    expect(expectedRecordingSec(6, [30_000, 36_000], O)).toBe(20);
    // 10,000 a second: done by `seconds`.
    expect(expectedRecordingSec(6, [60_000, 60_000], O)).toBe(12);
    // 1,000 a second: 100 s, capped.
    expect(expectedRecordingSec(6, [6_000, 60_000], O)).toBe(40);
    expect(expectedRecordingSec(1, [0, 0], O)).toBe(40);
    expect(expectedRecordingSec(6, [1, 1], { ...O, minMessages: 0 })).toBe(12);
  });
});

describe('bulkMbpsIn', () => {
  const iv = (startSec: number, endSec: number, mbps: number) => ({ startSec, endSec, bps: mbps * 1e6 });
  // Two flows that started 0.1 s apart, 0.5 s intervals, the second stopped with a short last one.
  const a = [iv(0, 0.5, 200), iv(0.5, 1, 450), iv(1, 1.5, 450), iv(1.5, 2, 450)];
  const b = [iv(0, 0.5, 100), iv(0.5, 1, 500), iv(1, 1.5, 500), iv(1.5, 1.6, 3000)];
  const flows = [a, b];

  it('sums the flows over the window, each interval by the share of it inside', () => {
    expect(bulkMbpsIn(flows, 0.5, 1.5)).toBe(950);
    // 0.25 s of 200 and 0.25 s of 450 (a), 0.25 s of 100 and 0.25 s of 500 (b).
    expect(bulkMbpsIn(flows, 0.25, 0.75)).toBe(625);
  });

  it('weighs a short burst by its length, and counts a flow that stopped as 0 after', () => {
    // [1.5, 2]: a 450; b 3000 for 0.1 s of the 0.5 s = 600.
    expect(bulkMbpsIn(flows, 1.5, 2)).toBe(1050);
    expect(bulkMbpsIn(flows, 2, 3)).toBe(0);
    expect(bulkMbpsIn([], 0, 10)).toBe(0);
    expect(bulkMbpsIn(flows, 1, 1)).toBe(0);
  });

  it('is the bits sent over the time, whatever the window', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        (x, y) => {
          const [from, to] = x < y ? [x, y] : [y, x];
          fc.pre(to - from > 0.01);
          const whole = bulkMbpsIn(flows, 0, 2) * 2;
          const parts =
            bulkMbpsIn(flows, 0, from) * from +
            bulkMbpsIn(flows, from, to) * (to - from) +
            bulkMbpsIn(flows, to, 2) * (2 - to);
          expect(parts).toBeCloseTo(whole, 0);
        },
      ),
    );
  });
});

describe('bulkSeries', () => {
  const iv = (startSec: number, endSec: number, mbps: number) => ({ startSec, endSec, bps: mbps * 1e6 });

  it('puts flows that started apart on the same steps, shifted to the recording clock', () => {
    const a = [iv(0, 0.5, 400), iv(0.5, 1, 400)];
    const b = [iv(0, 0.5, 500), iv(0.5, 1, 500)];
    // The recording starts 0.5 s into the flows.
    expect(bulkSeries([a, b], 0.5, 0.5)).toEqual([
      { tSec: 0, mbps: 900 },
      { tSec: 0.5, mbps: 900 },
    ]);
    expect(bulkSeries([], 2, 0.5)).toEqual([]);
  });
});
