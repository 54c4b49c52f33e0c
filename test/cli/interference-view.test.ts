// The live view and the closing table of `xlane bench interference` and `xlane demo`, on a fake
// stream (no terminal, no bench): what they print for normal lanes and for a lane without messages,
// and that a stopped view stays silent.
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { InterferenceProgress } from '../../src/bench/interference.js';
import { analyseLane } from '../../src/bench/interference-stats.js';
import type { LaneLatencySummary } from '../../src/bench/interference-types.js';
import { InterferenceView, interferenceTable } from '../../src/cli/interference-view.js';

/** Records what is written; `isTTY` picks the view's terminal (bar) or log (line) mode. */
class FakeStream {
  readonly chunks: string[] = [];
  columns = 200;
  constructor(readonly isTTY: boolean) {}
  write(chunk: string | Uint8Array): boolean {
    this.chunks.push(String(chunk));
    return true;
  }
  get text(): string {
    return stripVTControlCharacters(this.chunks.join(''));
  }
  asStream(): NodeJS.WriteStream {
    return this as unknown as NodeJS.WriteStream;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ProgressLane = InterferenceProgress['lanes'][number];
const late: ProgressLane = {
  lane: 'L1',
  name: 'hb-h1-h3',
  count: 900,
  p50Us: 20.04,
  p99Us: 150.2,
  maxUs: 300,
  boundUs: 100,
};
const silent: ProgressLane = {
  ...late,
  lane: 'L2',
  name: 'raft-h2-h3',
  count: 0,
  p50Us: NaN,
  p99Us: NaN,
  maxUs: NaN,
};

function progress(
  phase: InterferenceProgress['phase'],
  elapsedSec = 0,
  lanes: ProgressLane[] = [],
): InterferenceProgress {
  return { mode: 'express', phase, elapsedSec, totalSec: 4, lanes };
}

/** A lane summary as the bench makes it: the real analyseLane, here on no frames at all (NaN). */
function emptyLane(): LaneLatencySummary {
  const none = new Float64Array(0);
  const { cdf, series, firstOutliers, ...summary } = analyseLane(
    {
      lane: 'L2',
      name: 'raft-h2-h3',
      from: 'h2',
      to: 'h3',
      periodNs: 1e6,
      payloadBytes: 256,
      lambdaMinNs: 8500,
      lambdaMaxNs: 220_200,
    },
    { receivedNs: none, latencyNs: none, count: 0, lost: 0, startNs: 0 },
  );
  return summary;
}

const normal: LaneLatencySummary = {
  lane: 'L1',
  name: 'hb-h1-h3',
  from: 'h1',
  to: 'h3',
  periodNs: 100_000,
  payloadBytes: 64,
  lambdaMinUs: 8.5,
  boundUs: 224,
  p50Us: 23.4,
  p99Us: 41.7,
  p999Us: 57.2,
  maxUs: 188.1,
  withinBound: 0.99993,
  messages: 19_998,
  lost: 2,
  outliers: 7,
  tightness: 3.91,
  p9999Us: 80.1,
  tightnessFloor: 1.4,
};

/** The table's body rows as cell texts (borders and colours dropped). */
function rows(table: string): string[][] {
  return stripVTControlCharacters(table)
    .split('\n')
    .filter((line) => line.startsWith('│'))
    .map((line) =>
      line
        .split('│')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe('interferenceTable', () => {
  it('prints one row per run and lane with its figures against the bound', () => {
    const table = rows(
      interferenceTable({
        runs: [
          { mode: 'idle', bulkMbps: 0, lanes: [{ ...normal, p99Us: 21.06, withinBound: 1 }] },
          // The share of periods the sender used, where the record has it (older ones do not).
          { mode: 'express', bulkMbps: 941.3, lanes: [{ ...normal, sendRate: 0.6649 }] },
        ],
      }),
    );
    expect(table[0]).toEqual([
      'mode',
      'bulk Mbit/s',
      'lane',
      'bound µs',
      'p50',
      'p99',
      'p99.9',
      'p99.99',
      'max',
      'within',
      'tightness (floor)',
      'messages (rate)',
      'lost',
    ]);
    expect(table.slice(1)).toEqual([
      [
        'idle',
        '0',
        'hb-h1-h3 (L1)',
        '224',
        '23.4',
        '21.1',
        '57.2',
        '80.1',
        '188',
        '100.000%',
        '3.91 (1.40)',
        '19998',
        '2',
      ],
      [
        'express',
        '941',
        'hb-h1-h3 (L1)',
        '224',
        '23.4',
        '41.7',
        '57.2',
        '80.1',
        '188',
        '99.993%',
        '3.91 (1.40)',
        '19998 (66%)',
        '2',
      ],
    ]);
  });

  it('lists the bench’s verdicts under the table when there are some', () => {
    const out = interferenceTable({
      runs: [{ mode: 'express', bulkMbps: 941.3, lanes: [normal] }],
      targets: { tightnessAtMost5: true, withinBoundAtLeast99_99: false, fifoP99AtLeast10xExpress: null },
    });
    expect(out.split('\n').slice(-4)).toEqual([
      'targets:',
      '  tightnessAtMost5: met',
      '  withinBoundAtLeast99_99: MISSED',
      '  fifoP99AtLeast10xExpress: not judged',
    ]);
  });

  it('prints a lane without messages as dashes and "no messages", in memory (NaN) and from JSON (null)', () => {
    const inMemory = emptyLane();
    expect(Number.isNaN(inMemory.p99Us)).toBe(true);
    const fromJson = JSON.parse(JSON.stringify(inMemory));
    expect(fromJson.p99Us).toBeNull();
    for (const lane of [inMemory, fromJson]) {
      const table = rows(
        interferenceTable({ runs: [{ mode: 'fifo', bulkMbps: 936.8, lanes: [normal, lane] }] }),
      );
      expect(table[2]).toEqual([
        'fifo',
        '937',
        'raft-h2-h3 (L2)',
        '220',
        '–',
        '–',
        '–',
        '–',
        '–',
        'no messages',
        '–',
        '0',
        '0',
      ]);
      expect(table.flat().join(' ')).not.toMatch(/NaN|null/);
    }
  });
});

describe('InterferenceView', () => {
  it('logs phase changes and a progress line about every 2 s when the stream is not a terminal', () => {
    const out = new FakeStream(false);
    const view = new InterferenceView(out.asStream());
    view.update(progress('setup'));
    view.update(progress('warmup'));
    for (const t of [0, 0.5, 1, 1.5, 2]) view.update(progress('recording', t, [late, silent]));
    view.update({ ...progress('recording', 4, [late, silent]), totalSec: 9.6 });
    view.update(progress('analysing', 4));
    view.update(progress('done', 4));
    expect(out.text.split('\n')).toEqual([
      'express: setup',
      'express: warmup',
      // "!" marks a p99 over the bound; a lane without frames yet shows dashes, not NaN.
      'express 0/4 s: hb-h1-h3 p50 20.0 p99 150!/100 µs │ raft-h2-h3 p50 – p99 – /100 µs',
      'express 2/4 s: hb-h1-h3 p50 20.0 p99 150!/100 µs │ raft-h2-h3 p50 – p99 – /100 µs',
      'express 4/10 s: hb-h1-h3 p50 20.0 p99 150!/100 µs │ raft-h2-h3 p50 – p99 – /100 µs',
      'express: analysing',
      'express: done',
      '',
    ]);
  });

  it('draws a bar on a terminal, and once stopped (twice is fine) writes nothing more', async () => {
    const out = new FakeStream(true);
    const view = new InterferenceView(out.asStream());
    view.update(progress('setup'));
    view.update(progress('recording', 0, [late]));
    view.update(progress('recording', 2, [late]));
    await sleep(250); // the bar redraws on its own timer
    expect(out.text).toContain('express: setup\n');
    expect(out.text).toMatch(/express \S+ 2\/4 s │ hb-h1-h3 p50 20\.0 p99 150!\/100 µs/);
    // The lanes are slow to reach their message count: the recording is expected to take longer.
    view.update({ ...progress('recording', 4, [late]), totalSec: 17.4 });
    await sleep(250);
    expect(out.text).toMatch(/express \S+ 4\/17 s │/);
    view.stop();
    const written = out.chunks.length;
    view.stop();
    view.update(progress('recording', 3, [late]));
    view.update(progress('analysing', 4));
    view.update(progress('recording', 0, [late])); // a late call must not start a new bar
    await sleep(250);
    expect(out.chunks.length).toBe(written);
  });
});
