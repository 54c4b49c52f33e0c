// The allocation benchmark's workload and report (never its timings).
import { describe, expect, it } from 'vitest';
import { fabricFor, runAllocBench } from '../../src/bench/alloc.js';

describe('bench alloc', () => {
  it('builds the documented fabrics', () => {
    const small = fabricFor(1024);
    expect([small.hosts.length, small.switches.length]).toEqual([1024, 32 + 4]);
    const big = fabricFor(10240);
    expect([big.hosts.length, big.switches.length]).toEqual([10240, 160 + 16]);
  });

  it('loads the requested lanes and the result passes the verifier', () => {
    const r = runAllocBench({ hosts: 64, lanes: 400, samples: 5, seed: 7 });
    expect(r).toMatchObject({ hosts: 64, lanes: 400, invariantViolations: 0 });
    for (const v of [r.admitMs.p50, r.admitMs.p99, r.recomputeMs, r.buildMs])
      expect(v).toBeGreaterThanOrEqual(0);
  });

  it('refuses a fabric too small for a lane', () => {
    expect(() => runAllocBench({ hosts: 1, lanes: 1, samples: 1, seed: 1 })).toThrowError(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
  });
});
