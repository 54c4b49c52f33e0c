// The pieces of `xlane bench host` that can be checked without judging speed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cyclictestArgs, parseCyclictestHistogram } from '../../src/bench/host-cyclictest.js';
import { ChildPacingProbe } from '../../src/bench/host-pacing.js';
import { FIXTURES } from './helpers.js';

describe('bench host', () => {
  it('cyclictest histogram: percentiles from the buckets, max from the summary', () => {
    const text = readFileSync(join(FIXTURES, 'cyclictest-histogram.txt'), 'utf8');
    const r = parseCyclictestHistogram(text);
    // Recount by hand from the fixture's buckets.
    const buckets = text
      .split('\n')
      .map((l) => /^(\d+) (\d+)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [Number(m[1]), Number(m[2])] as const);
    const total = buckets.reduce((s, [, n]) => s + n, 0);
    expect(total).toBe(19897);
    const below = (us: number) => buckets.filter(([b]) => b < us).reduce((s, [, n]) => s + n, 0);
    expect(below(r.p50)).toBeLessThan(total * 0.5);
    expect(below(r.p50 + 1)).toBeGreaterThanOrEqual(total * 0.5);
    expect(below(r.p99)).toBeLessThan(total * 0.99);
    expect(r.max).toBe(1281);
  });

  it('samples past the histogram count at the reported max', () => {
    const text = '000001 000090\n000002 000000\n# Max Latencies: 05000\n# Histogram Overflows: 00010\n';
    expect(parseCyclictestHistogram(text)).toEqual({ p50: 1, p99: 5000, max: 5000 });
  });

  it('no histogram is a clear error', () => {
    expect(() => parseCyclictestHistogram('garbage')).toThrow(
      expect.objectContaining({ code: 'XL_ERR_INTERNAL' }),
    );
  });

  it('cyclictest runs the documented command line', () => {
    expect(cyclictestArgs(3, 10).join(' ')).toBe('-m -p 90 -i 100 -h 2000 -q -D 10 -a 3 -t 1');
  });

  it('the pacing probe runs pinned and returns ordered, non-negative errors', async () => {
    const r = await new ChildPacingProbe().measure(0, 0.05);
    expect(r.p50).toBeGreaterThanOrEqual(0);
    expect(r.p50).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBeLessThanOrEqual(r.max);
    expect(Number.isFinite(r.max)).toBe(true);
  });
});
