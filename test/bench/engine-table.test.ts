// The all-engines table (`xlane bench engine --all`): the pure markdown rendering and ratios.
import { describe, expect, it } from 'vitest';
import { type EngineTableResult, engineTableMarkdown, overFloor } from '../../src/bench/engine-table.js';

const s = (p50: number, p99: number, p999: number, max: number) => ({ p50, p99, p999, max });

const table: EngineTableResult = {
  rows: [
    { name: 'C floor (busy-poll)', rttUs: s(8, 12, 30, 90), roundTrips: 1000 },
    {
      name: 'native busy-poll',
      rttUs: s(10, 15, 45, 100),
      roundTrips: 1000,
      overFloor: { p50: 1.25, p999: 1.5 },
      pacingErrUs: s(0.1, 0.8, 9, 20),
      missedPeriods: 0,
      enginePacingErrUs: s(0.1, 0.7, 8, 20),
      engineMissedPeriods: 0,
    },
    {
      name: 'Node dgram',
      rttUs: s(40, Number.NaN, 90, 200),
      roundTrips: 1000,
      overFloor: { p50: 5, p999: 3 },
    },
  ],
  skipped: [{ name: 'native blocking', reason: 'addon not built' }],
  roundTrips: 1000,
  pacingSeconds: 2,
  pacingPeriodUs: 100,
  releaseJitterUs: 20,
  phaseUs: 0,
  pacingFeed: 'heartbeat',
  truncated: false,
  cores: { a: 0, b: 1 },
  machine: { cpus: 2, loadAvgBefore: [1.5, 1, 0.5], loadAvgAfter: [1, 1, 1] },
};

describe('engineTableMarkdown', () => {
  const md = engineTableMarkdown(table);
  const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| 64 B'));

  it('has one row per engine and per skipped engine, each with every column', () => {
    expect(rows.map((r) => r.split('|')[1]!.trim())).toEqual([
      'C floor (busy-poll)',
      'native busy-poll',
      'Node dgram',
      'native blocking',
    ]);
    const columns = md.split('\n')[0]!.split('|').length;
    for (const r of rows) expect(r.split('|')).toHaveLength(columns);
  });

  it('prints the numbers it was given, n/a for missing data, and why an engine did not run', () => {
    expect(rows[1]).toContain('| 10 | 15 | 45 | 100 | 1.25 | 1.5 | 0.8 / 9 | 0 | 0.7 / 8 | 0 |');
    expect(rows[2]).toContain('| 40 | n/a | 90 |');
    expect(rows[3]).toContain('not run: addon not built');
  });

  it('states the run: round trips, pacing, load and pinning', () => {
    expect(md).toContain('1000 round trips each');
    expect(md).toContain(
      "100 µs lane (release jitter 20 µs, grant phase 0 µs) for 2 s per engine, frames from the engine's heartbeat clock",
    );
    expect(md).toContain('load average 1.5 1 0.5');
    expect(md).toContain('CPUs 0 (A) and 1 (B)');
  });
});

describe('overFloor', () => {
  it('divides by the floor, and gives NaN (null in JSON) without one', () => {
    expect(overFloor(s(10, 0, 45, 0), s(8, 0, 30, 0))).toEqual({ p50: 1.25, p999: 1.5 });
    expect(overFloor(s(10, 0, 45, 0), s(0, 0, Number.NaN, 0))).toEqual({ p50: Number.NaN, p999: Number.NaN });
  });
});
