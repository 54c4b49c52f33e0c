// The engine clock is CLOCK_MONOTONIC in whole ns: the same clock as process.hrtime.bigint() (and
// the native engine's clock_gettime), so timestamps from the two engines and from other processes
// of the machine compare directly.
import { describe, expect, it } from 'vitest';
import { monotonicNs } from '../../src/engine/clock.js';

describe('monotonicNs', () => {
  it('reads CLOCK_MONOTONIC in integer ns, bracketed by hrtime.bigint()', () => {
    for (let i = 0; i < 1000; i++) {
      const a = process.hrtime.bigint();
      const t = monotonicNs();
      const b = process.hrtime.bigint();
      expect(Number.isInteger(t)).toBe(true);
      expect(BigInt(t) >= a && BigInt(t) <= b).toBe(true);
    }
  });

  it('never goes back', () => {
    let prev = monotonicNs();
    let back = 0;
    for (let i = 0; i < 100_000; i++) {
      const t = monotonicNs();
      if (t < prev) back++;
      prev = t;
    }
    expect(back).toBe(0);
  });
});
