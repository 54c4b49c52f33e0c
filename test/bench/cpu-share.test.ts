// The busy and stolen shares of CPU time between two /proc/stat readings, as both benches report.
import { describe, expect, it } from 'vitest';
import { cpuShares, readCpuTimes } from '../../src/bench/cpu-share.js';

describe('cpuShares', () => {
  it('splits the time between the readings into busy (not idle, not iowait) and stolen', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    const a = [100, 0, 50, 1000, 10, 0, 5, 0, 0, 0];
    const b = [160, 0, 80, 1100, 30, 0, 15, 15, 40, 0];
    // deltas: 60 + 30 + 100 + 20 + 10 + 15 = 235 total, idle+iowait 120; guest is inside user
    expect(cpuShares(a, b)).toEqual({ busy: Math.round((115 / 235) * 1000) / 1000, steal: 0.064 });
  });

  it('is NaN when a reading is missing or nothing elapsed', () => {
    expect(cpuShares(undefined, [1, 2, 3, 4, 5, 6, 7, 8])).toEqual({ busy: Number.NaN, steal: Number.NaN });
    const same = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(cpuShares(same, same).busy).toBeNaN();
  });

  it('reads this machine’s counters', () => {
    const t = readCpuTimes();
    expect(t?.length).toBeGreaterThanOrEqual(8);
    expect(t!.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  });
});
