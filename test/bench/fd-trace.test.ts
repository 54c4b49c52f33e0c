// The bench's replay of heartbeat arrivals through the pure detectors (src/bench/fd-trace.ts): a
// suspicion starts at the detector's exact crossing and ends at the next arrival; a new
// incarnation gets a fresh detector; older incarnations are ignored; the end of the observation
// reports a silence still running.
import { describe, expect, it } from 'vitest';
import { type Suspicion, SuspicionTrace } from '../../src/bench/fd-trace.js';
import { FixedTimeoutDetector } from '../../src/fd/fixed-timeout.js';
import { PhiAccrualDetector } from '../../src/fd/phi-accrual.js';

const TO = 400;

function fixedTrace() {
  const out: Suspicion[] = [];
  const made: FixedTimeoutDetector[] = [];
  const trace = new SuspicionTrace(
    () => {
      const d = new FixedTimeoutDetector(TO);
      made.push(d);
      return d;
    },
    (s) => out.push(s),
  );
  return { trace, out, made };
}

describe('SuspicionTrace with a fixed timeout', () => {
  it('reports nothing while heartbeats come within the timeout', () => {
    const { trace, out } = fixedTrace();
    for (let t = 0; t <= 10_000; t += 100) trace.arrival(t, 1);
    trace.finish(10_100);
    expect(out).toEqual([]);
    expect(trace.arrivals).toBe(101);
  });

  it('a gap past the timeout is one suspicion from last + TO to the next arrival', () => {
    const { trace, out } = fixedTrace();
    trace.arrival(0, 1);
    trace.arrival(100, 1);
    trace.arrival(1_000, 1);
    trace.arrival(1_100, 1);
    expect(out).toEqual([{ startNs: 500, endNs: 1_000, lastArrivalNs: 100, incarnation: 1 }]);
  });

  it('an arrival exactly at last + TO comes too late (the detector and the engine both suspect at ≥)', () => {
    const { trace, out } = fixedTrace();
    trace.arrival(0, 1);
    trace.arrival(TO - 1, 1);
    expect(out).toEqual([]);
    trace.arrival(2 * TO - 1, 1);
    expect(out).toEqual([{ startNs: 2 * TO - 1, endNs: 2 * TO - 1, lastArrivalNs: TO - 1, incarnation: 1 }]);
  });

  it('nothing is judged before the first heartbeat', () => {
    const { trace, out } = fixedTrace();
    expect(trace.suspectAtNs()).toBe(Number.POSITIVE_INFINITY);
    trace.finish(1e9);
    trace.arrival(1e9, 1);
    expect(out).toEqual([]);
  });

  it('a restart: the old life’s silence ends with the new life’s first heartbeat, judged by a fresh detector', () => {
    const { trace, out, made } = fixedTrace();
    trace.arrival(0, 7);
    trace.arrival(100, 7);
    trace.arrival(5_000, 8);
    trace.arrival(5_100, 8);
    expect(out).toEqual([{ startNs: 500, endNs: 5_000, lastArrivalNs: 100, incarnation: 7 }]);
    expect(made).toHaveLength(2);
    expect(made[1]!.lastHeartbeatNs).toBe(5_100);
  });

  it('ignores frames of an older incarnation (the engine drops them as old)', () => {
    const { trace, out } = fixedTrace();
    trace.arrival(0, 2);
    trace.arrival(100, 1);
    trace.arrival(200, 2);
    expect(trace.stale).toBe(1);
    expect(trace.arrivals).toBe(2);
    expect(out).toEqual([]);
  });

  it('finish() reports a silence still running, unfinished', () => {
    const { trace, out } = fixedTrace();
    trace.arrival(0, 1);
    trace.finish(300);
    expect(out).toEqual([]);
    trace.finish(1_000);
    expect(out).toEqual([
      { startNs: 400, endNs: Number.POSITIVE_INFINITY, lastArrivalNs: 0, incarnation: 1 },
    ]);
  });
});

describe('SuspicionTrace with φ-accrual', () => {
  it('starts each suspicion at the exact φ crossing, with no polling delay', () => {
    const out: Suspicion[] = [];
    const opts = { minStdDeviationNs: 10, acceptableHeartbeatPauseNs: 0, firstHeartbeatEstimateNs: 100 };
    const trace = new SuspicionTrace(
      () => new PhiAccrualDetector(opts),
      (s) => out.push(s),
    );
    // The same arrivals through a detector of our own tell when φ would cross.
    const twin = new PhiAccrualDetector(opts);
    for (let t = 0; t <= 20_000; t += 100) {
      trace.arrival(t, 1);
      twin.heartbeat(t);
    }
    const crossing = twin.suspectAtNs();
    expect(crossing).toBeGreaterThan(20_000);
    trace.arrival(30_000, 1);
    expect(out).toEqual([{ startNs: crossing, endNs: 30_000, lastArrivalNs: 20_000, incarnation: 1 }]);
    expect(twin.phi(crossing)).toBeCloseTo(8, 6);
  });
});
