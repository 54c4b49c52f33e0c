// Which premise of TO an X-FD false positive broke (src/bench/fd-causes.ts).
import { describe, expect, it } from 'vitest';
import { CauseTally, type PairContract } from '../../src/bench/fd-causes.js';
import type { ObservedSuspicion } from '../../src/bench/fd-score.js';

const US = 1000;
// π 100 µs, E 10 µs, λ_max 150 µs, TO 400 µs.
const contract: PairContract = {
  periodNs: 100 * US,
  releaseJitterNs: 10 * US,
  lambdaMaxNs: 150 * US,
  timeoutNs: 400 * US,
};
const T0 = 1e12;

/** A false positive: the silence followed a heartbeat sent at T0 that arrived `lastFlight` later;
 * the frame that ended it was sent `gap` after it and was `flight` in flight. */
function fp(gap: number, flight: number, lastFlight = 20 * US): ObservedSuspicion {
  const lastArrivalNs = T0 + lastFlight;
  const endArrivalNs = T0 + gap + flight;
  return {
    observer: 'h1',
    member: 'h2',
    startNs: lastArrivalNs + contract.timeoutNs,
    endNs: endArrivalNs + 5 * US,
    lastArrivalNs,
    lastSentNs: T0,
    endSentNs: T0 + gap,
    endArrivalNs,
  };
}

describe('CauseTally', () => {
  it('tells a late sender, a late flight, a frame that arrived in time, and the rest apart', () => {
    const t = new CauseTally((o, m) => (o === 'h1' && m === 'h2' ? contract : undefined));
    t.add(fp(500 * US, 20 * US)); // left 500 µs after the last one: > π + 2E
    t.add(fp(100 * US, 450 * US)); // on time, 450 µs in flight: > λ_max
    t.add(fp(600 * US, 200 * US)); // both
    // Reached the kernel 390 µs after the last arrival (< TO): read only after the watchdog looked.
    t.add(fp(110 * US, 120 * US, 0));
    t.add(fp(120 * US, 140 * US, -300 * US)); // within every premise: a stamp the model cannot place
    // Not judged: no lane for the pair, a silence still running, or a row without send stamps.
    t.add({ ...fp(500 * US, 20 * US), observer: 'h3' });
    t.add({ ...fp(500 * US, 20 * US), endSentNs: Number.NaN, endArrivalNs: Number.NaN, endNs: Infinity });
    const { lastSentNs: _, ...noStamps } = fp(500 * US, 20 * US);
    t.add(noStamps);

    const s = t.summary();
    expect(s).toMatchObject({ judged: 5, senderLate: 2, inFlightLate: 2, arrivedInTime: 1, unexplained: 1 });
    expect(s.sendGapUs.max).toBe(600);
    expect(s.inFlightUs.max).toBe(450);
    expect(s.sendGapUs.p50).toBe(120);
  });

  it('reports nothing (NaN percentiles) when no false positive could be judged', () => {
    const s = new CauseTally(() => contract).summary();
    expect(s.judged).toBe(0);
    expect(s.sendGapUs.p50).toBeNaN();
  });
});
