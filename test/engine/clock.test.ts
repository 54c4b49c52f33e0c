// The engine clock is CLOCK_MONOTONIC in whole ns: the same clock as process.hrtime.bigint() (and
// the native engine's clock_gettime), so timestamps from the two engines and from other processes
// of the machine compare directly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  measureRealtimeOffset,
  measureRealtimeOffsetNs,
  monotonicNs,
  RealtimeOffset,
} from '../../src/engine/clock.js';
import { measureRealtimeOffsetOffThread } from '../../src/engine/clock-off-thread.js';

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

describe('the realtime offset (grant phases)', () => {
  it('measures CLOCK_REALTIME − CLOCK_MONOTONIC as an interval that holds the true value, and repeatably', () => {
    const a = measureRealtimeOffset();
    const b = measureRealtimeOffset();
    expect(a.uncertaintyNs).toBeGreaterThan(0n);
    // Each interval holds the true offset, so two measurements' intervals overlap (1 µs allowed
    // for NTP slewing the realtime clock between them).
    const diff = a.offsetNs > b.offsetNs ? a.offsetNs - b.offsetNs : b.offsetNs - a.offsetNs;
    expect(diff).toBeLessThanOrEqual(a.uncertaintyNs + b.uncertaintyNs + 1_000n);
    expect(measureRealtimeOffsetNs()).toBeTypeOf('bigint');
    // Against Date.now() and hrtime read together: within the ms Date.now() truncates, plus noise.
    const viaDate = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    expect(a.offsetNs - viaDate).toBeGreaterThanOrEqual(-1_000_000n);
    expect(a.offsetNs - viaDate).toBeLessThanOrEqual(2_000_000n);
  });

  // A simulated machine: one monotonic time that every clock read advances by its cost, with the
  // thread preempted (time jumps) before chosen reads, or right as it reads a new ms for the first
  // `tickStalls` times; CLOCK_REALTIME is that time + the offset.
  function machine(
    offsetNs: bigint,
    readCostNs: bigint,
    stalls: Map<number, bigint>,
    o: { stopRealtime?: boolean; tickStalls?: number } = {},
  ) {
    let t = 7_000_000_123n;
    let reads = 0;
    let tickStalls = o.tickStalls ?? 0;
    const step = () => {
      t += (stalls.get(reads) ?? 0n) + readCostNs;
      reads++;
    };
    const ms = () => Number((t + offsetNs) / 1_000_000n);
    const frozen = ms();
    let lastMs = frozen;
    return {
      realtimeMs: () => {
        step();
        if (o.stopRealtime) return frozen;
        const now = ms();
        if (now !== lastMs && tickStalls > 0) {
          tickStalls--;
          t += 300_000n; // preempted between crossing the ms and returning it
        }
        lastMs = now;
        return now;
      },
      monotonicNs: () => {
        step();
        return t;
      },
      reads: () => reads,
    };
  }
  const OFFSET = 1_795_714_089_878_588_777n;
  const holds = (m: { offsetNs: bigint; uncertaintyNs: bigint }, truth: bigint) =>
    m.offsetNs - m.uncertaintyNs <= truth && truth <= m.offsetNs + m.uncertaintyNs;

  it('on an undisturbed machine: within a few clock reads of the truth, after one sample', () => {
    const clocks = machine(OFFSET, 40n, new Map());
    const m = measureRealtimeOffset(8, 2_000n, clocks);
    expect(holds(m, OFFSET)).toBe(true);
    expect(m.uncertaintyNs).toBeLessThanOrEqual(120n);
    expect(clocks.reads()).toBeLessThan((3 * 1_000_000) / 40); // one ms of polling, not eight
  });

  it('whatever the preemptions, the interval holds the true offset (property)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 62n }),
        fc.bigInt({ min: 20n, max: 2_000n }),
        // Stalls anywhere, and often among the first reads of the first sample.
        fc.array(
          fc.tuple(
            fc.oneof(fc.nat({ max: 6 }), fc.nat({ max: 400_000 })),
            fc.bigInt({ min: 1n, max: 3_000_000n }),
          ),
          { maxLength: 40 },
        ),
        fc.nat({ max: 8 }),
        (offset, cost, stalls, tickStalls) => {
          const m = measureRealtimeOffset(8, 2_000n, machine(offset, cost, new Map(stalls), { tickStalls }));
          expect(holds(m, offset), `${m.offsetNs} ± ${m.uncertaintyNs} vs ${offset}`).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a sample preempted at the tick is only wide: the next ones narrow the interval again', () => {
    const once = measureRealtimeOffset(1, 2_000n, machine(OFFSET, 50n, new Map(), { tickStalls: 1 }));
    expect(holds(once, OFFSET)).toBe(true);
    expect(once.uncertaintyNs).toBeGreaterThan(100_000n);
    const m = measureRealtimeOffset(8, 2_000n, machine(OFFSET, 50n, new Map(), { tickStalls: 3 }));
    expect(holds(m, OFFSET)).toBe(true);
    expect(m.uncertaintyNs).toBeLessThanOrEqual(150n);
  });

  it('a stopped realtime clock ends the measurement (bounded) with a wide answer', () => {
    const clocks = machine(OFFSET, 1_000n, new Map(), { stopRealtime: true });
    const m = measureRealtimeOffset(3, 2_000n, clocks);
    expect(m.uncertaintyNs).toBe(1_000_000n);
    // Three samples of at most 5 ms each, at 1 µs per read pair and a half.
    expect(clocks.reads()).toBeLessThan(3 * 5_000 * 3 + 10);
  });

  it('measures on a worker too, without blocking this thread, to the same value', async () => {
    const here = measureRealtimeOffset();
    const there = await measureRealtimeOffsetOffThread();
    expect(typeof there.offsetNs).toBe('bigint');
    const diff =
      here.offsetNs > there.offsetNs ? here.offsetNs - there.offsetNs : there.offsetNs - here.offsetNs;
    expect(diff).toBeLessThanOrEqual(here.uncertaintyNs + there.uncertaintyNs + 1_000n);
  });

  it('takes measurements offered from elsewhere by the same rule: true only when the value moved', () => {
    const m = (offsetNs: bigint, uncertaintyNs: bigint) => ({ offsetNs, uncertaintyNs });
    const offset = new RealtimeOffset(() => m(0n, 1n), Number.POSITIVE_INFINITY);
    expect(offset.offer(m(10_000n, 200n))).toBe(false); // the first: no move
    expect(offset.get()).toBe(10_000n); // never re-measured by get() with an infinite age
    expect(offset.offer(m(10_900n, 200n))).toBe(false); // within 0.2 + 0.2 + 1 µs: noise
    expect(offset.offer(m(12_000n, 200n))).toBe(true); // 2 µs: a step
    expect(offset.get()).toBe(12_000n);
    expect(offset.changes()).toBe(1);
  });

  it('keeps its value through measurement noise, moves on a clock step or to a much narrower measurement, re-measures at most every maxAge', () => {
    const m = (offsetNs: bigint, uncertaintyNs: bigint) => ({ offsetNs, uncertaintyNs });
    const samples = [
      m(1_000n, 5_000n), // widened by load
      m(1_500n, 4_000n), // noise, and not much narrower
      m(3_000n, 1_000n), // less than half as wide: a better value
      m(9_000n, 300n), // 6 µs off, 2.3 µs allowed: a step
      m(9_200n, 150n), // noise; narrower, but the held one is already within the slack
      m(-50_000n, 1_000_000n), // a load-widened measurement is consistent with anything: kept
    ];
    let measured = 0;
    let now = 0;
    const offset = new RealtimeOffset(
      () => samples[measured++]!,
      60_000,
      1_000n,
      () => now,
    );
    expect(measured).toBe(0); // measured on first use only
    expect(offset.get()).toBe(1_000n);
    now = 59_999;
    expect(offset.get()).toBe(1_000n);
    expect(measured).toBe(1);
    const next = () => {
      now += 60_000;
      return offset.get();
    };
    expect(next()).toBe(1_000n);
    expect(next()).toBe(3_000n);
    expect(next()).toBe(9_000n);
    expect(next()).toBe(9_000n);
    expect(next()).toBe(9_000n);
    expect(measured).toBe(6);
  });
});
