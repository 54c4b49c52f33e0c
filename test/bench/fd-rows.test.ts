// The bench-fd peers' suspicion rows (binary collect files) and the pure parts of its cross traffic.
import { describe, expect, it } from 'vitest';
import { backupCores } from '../../src/bench/backup-cores.js';
import { coverageOf, meanMbps, ringFlows } from '../../src/bench/fd-bulk.js';
import { readRows, SuspicionRows } from '../../src/bench/fd-rows.js';

describe('SuspicionRows', () => {
  it('round-trips rows through bytes, grows past its first chunk, and empties on take()', () => {
    const rows = new SuspicionRows();
    for (let i = 0; i < 3000; i++) {
      if (i === 0) rows.push(0, 0, 1e15, 1e15 + 5, 1e15 - 400, 1e15 - 410, 1e15 - 10, 1e15 + 3);
      else rows.push(i % 3, i % 2, 1e15 + i, i === 2999 ? -1 : 1e15 + i + 5, 1e15 + i - 400);
    }
    const bytes = rows.take();
    expect(rows.rows).toBe(0);
    const back = readRows(bytes);
    expect(back).toHaveLength(3000);
    expect(back[0]).toEqual({
      kind: 0,
      member: 0,
      startNs: 1e15,
      endNs: 1e15 + 5,
      lastArrivalNs: 1e15 - 400,
      lastSentNs: 1e15 - 410,
      endSentNs: 1e15 - 10,
      endArrivalNs: 1e15 + 3,
    });
    expect(back[2999]).toEqual({
      kind: 2,
      member: 1,
      startNs: 1e15 + 2999,
      endNs: -1,
      lastArrivalNs: 1e15 + 2599,
      lastSentNs: Number.NaN,
      endSentNs: Number.NaN,
      endArrivalNs: Number.NaN,
    });
    expect(readRows(rows.take())).toEqual([]);
  });
});

describe('cross traffic of bench fd', () => {
  it('a ring loads every member’s egress once', () => {
    expect(ringFlows(['h1', 'h2', 'h3'], 5201)).toEqual([
      { from: 'h1', to: 'h2', port: 5201 },
      { from: 'h2', to: 'h3', port: 5202 },
      { from: 'h3', to: 'h1', port: 5203 },
    ]);
  });

  it('coverage: the share of the window some segment covered (overlaps counted once)', () => {
    const w = { startNs: 100, endNs: 200 };
    expect(coverageOf([{ startNs: 0, endNs: 300 }], w)).toBe(1);
    expect(
      coverageOf(
        [
          { startNs: 90, endNs: 140 },
          { startNs: 130, endNs: 150 },
          { startNs: 160, endNs: 170 },
        ],
        w,
      ),
    ).toBeCloseTo(0.6, 12);
    expect(coverageOf([], w)).toBe(0);
  });

  it('mean goodput weighs segments by their length', () => {
    const r = (bps: number, seconds: number) => ({
      from: 'a',
      to: 'b',
      kind: 'tcp' as const,
      seconds,
      receivedBps: bps,
      sentBps: bps,
      intervals: [],
    });
    expect(meanMbps([r(900e6, 20), r(600e6, 10)])).toBeCloseTo(800, 9);
    expect(meanMbps([])).toBe(0);
  });
});

describe('bench fd --backup', () => {
  it('spreads the engine threads over the CPUs, each backup clock on another CPU than its engine', () => {
    expect([0, 1, 2].map((m) => backupCores(m, 2))).toEqual([
      { core: 0, backupCore: 1 },
      { core: 1, backupCore: 0 },
      { core: 0, backupCore: 1 },
    ]);
    for (let m = 0; m < 5; m++) expect(backupCores(m, 4).backupCore).not.toBe(backupCores(m, 4).core);
  });
});
