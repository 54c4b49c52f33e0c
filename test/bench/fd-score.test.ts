// The bench's judgement of suspicions against injected crashes (src/bench/fd-score.ts), the same for
// every detector: detections, false positives, missed and already-suspected injections, the
// observation window, and batches fed as the run goes.
import { describe, expect, it } from 'vitest';
import {
  DetectorTally,
  type Injection,
  type ObservedSuspicion,
  percentilesUs,
  scoreDetector,
} from '../../src/bench/fd-score.js';

const MEMBERS = ['h1', 'h2', 'h3'];
const observersOf = (v: string) => MEMBERS.filter((m) => m !== v);
const window = { startNs: 0, endNs: 1e12 };
const inj = (index: number, victim: string, crashNs: number, reviveNs: number): Injection => ({
  index,
  victim,
  crashNs,
  reviveNs,
});
const sus = (
  observer: string,
  member: string,
  startNs: number,
  endNs: number,
  lastArrivalNs = startNs - 400,
): ObservedSuspicion => ({
  observer,
  member,
  startNs,
  endNs,
  lastArrivalNs,
});

describe('scoreDetector', () => {
  it('a suspicion of the victim between its crash and its restart is that observer’s detection', () => {
    const injections = [inj(0, 'h1', 10_000, 2_000_000)];
    const s = scoreDetector(
      [sus('h2', 'h1', 10_450, 2_000_100, 10_050), sus('h3', 'h1', 10_470, 2_000_200, 10_050)],
      injections,
      observersOf,
      window,
    );
    expect(s.detections).toEqual([
      { injection: 0, observer: 'h2', member: 'h1', detectionNs: 450, sinceLastArrivalNs: 400 },
      { injection: 0, observer: 'h3', member: 'h1', detectionNs: 470, sinceLastArrivalNs: 420 },
    ]);
    expect(s.falsePositives).toBe(0);
    expect(s.missed).toEqual([]);
  });

  it('any other suspicion is a false positive: another member, before the crash, after the restart', () => {
    const injections = [inj(0, 'h1', 10_000, 20_000)];
    const s = scoreDetector(
      [
        sus('h2', 'h3', 10_500, 10_600), // h3 was alive
        sus('h2', 'h1', 5_000, 5_100), // before the crash, ended before it
        sus('h2', 'h1', 25_000, 25_050), // the new incarnation
        sus('h2', 'h1', 10_500, 21_000), // the detection
      ],
      injections,
      observersOf,
      window,
    );
    expect(s.falsePositives).toBe(3);
    expect(s.falsePositiveSample.map((x) => x.startNs)).toEqual([5_000, 10_500, 25_000]);
    expect(s.detections.map((d) => d.observer)).toEqual(['h2']);
    expect(s.missed).toEqual([{ injection: 0, observer: 'h3' }]);
  });

  it('a suspicion running through the crash is a false positive, and that pair has no detection time', () => {
    const injections = [inj(0, 'h1', 10_000, 20_000)];
    const s = scoreDetector([sus('h2', 'h1', 9_000, 20_500)], injections, observersOf, window);
    expect(s.falsePositives).toBe(1);
    expect(s.detections).toEqual([]);
    expect(s.alreadySuspected).toEqual([{ injection: 0, observer: 'h2' }]);
    expect(s.missed).toEqual([{ injection: 0, observer: 'h3' }]);
  });

  it('a second suspicion in the same injection (a straggler revived it) is a repeat, not a detection', () => {
    const injections = [inj(0, 'h1', 10_000, 20_000)];
    const s = scoreDetector(
      [sus('h2', 'h1', 10_400, 10_500), sus('h2', 'h1', 10_900, 20_100)],
      injections,
      observersOf,
      window,
    );
    expect(s.detections).toHaveLength(1);
    expect(s.detections[0]!.detectionNs).toBe(400);
    expect(s.repeats).toBe(1);
    expect(s.falsePositives).toBe(0);
  });

  it('only suspicions that start inside the observation window count', () => {
    const s = scoreDetector(
      [sus('h2', 'h3', 500, 600), sus('h2', 'h3', 5_000, 5_100), sus('h2', 'h3', 9_000, 9_100)],
      [],
      observersOf,
      { startNs: 1_000, endNs: 9_000 },
    );
    expect(s.falsePositives).toBe(1);
  });
});

describe('DetectorTally', () => {
  it('judges batches fed as the run goes exactly like the whole list at once', () => {
    const injections = [inj(0, 'h1', 10_000, 20_000), inj(1, 'h2', 30_000, 40_000)];
    const first = [
      sus('h3', 'h2', 1_000, 1_200),
      sus('h2', 'h1', 10_300, 20_010),
      sus('h3', 'h1', 10_350, 20_020),
    ];
    const second = [
      sus('h1', 'h2', 29_000, 40_020),
      sus('h3', 'h2', 30_400, 40_010),
      sus('h1', 'h3', 35_000, 35_010),
    ];
    const w = { startNs: 0, endNs: Number.POSITIVE_INFINITY };
    const seen: string[] = [];
    const t = new DetectorTally(w, 2, (s, spansCrash) =>
      seen.push(`${s.observer}>${s.member}@${s.startNs}${spansCrash ? ' through a crash' : ''}`),
    );
    t.add(first, injections.slice(0, 1));
    t.add(second, injections);
    const fed = t.score(injections, observersOf);
    const once = scoreDetector([...first, ...second], injections, observersOf, window);
    expect(fed.detections).toEqual(once.detections);
    expect(fed.falsePositives).toBe(once.falsePositives);
    expect(fed.falsePositives).toBe(3);
    expect(fed.falsePositiveSample).toHaveLength(2); // the cap
    // The hook sees every false positive, past the cap.
    expect(seen).toEqual(['h3>h2@1000', 'h1>h2@29000 through a crash', 'h1>h3@35000']);
    expect(fed.alreadySuspected).toEqual(once.alreadySuspected);
    expect(fed.alreadySuspected).toEqual([{ injection: 1, observer: 'h1' }]);
    expect(fed.missed).toEqual(once.missed);
  });
});

describe('percentilesUs', () => {
  it('nearest rank in µs; no samples gives NaN (JSON null), never 0', () => {
    expect(percentilesUs([3000, 1000, 2000])).toEqual({ p50: 2, p99: 3, max: 3 });
    const empty = percentilesUs([]);
    expect(Number.isNaN(empty.p50) && Number.isNaN(empty.p99) && Number.isNaN(empty.max)).toBe(true);
  });
});
