// The run's notes in words: outlier times are kept only for the first FIRST_OUTLIERS of a lane (the
// record must say so when that cut anything, or the report's dots would pass for all of them), where
// late messages lost their time, and whether the two promise targets could both hold.
import { describe, expect, it } from 'vitest';
import { defaultInterferenceOptions, validateInterference } from '../../src/bench/interference.js';
import {
  lateNote,
  notesFor,
  outliersNote,
  sendRateNote,
  tightnessFloorNote,
} from '../../src/bench/interference-notes.js';
import { analyseLane, FIRST_OUTLIERS } from '../../src/bench/interference-stats.js';
import type { InterferenceRunDetail } from '../../src/bench/interference-types.js';
import { W } from './lane-window.js';

function run(mode: InterferenceRunDetail['mode'], late: number): InterferenceRunDetail {
  const n = 1000;
  const receivedNs = new Float64Array(n);
  const latencyNs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    receivedNs[i] = i * 100_000;
    latencyNs[i] = i < late ? 500_000 : 20_000;
  }
  const lane = analyseLane(W, { receivedNs, latencyNs, count: n, lost: 0, startNs: 0 });
  return { mode, bulkMbps: 0, lanes: [lane], seconds: 0.1, startedAt: '', bulk: [], engine: {} };
}

describe('outliersNote', () => {
  it('names every lane whose outlier times were cut, with kept and total', () => {
    const fifo = run('fifo', 250);
    expect(fifo.lanes[0]!.firstOutliers).toHaveLength(FIRST_OUTLIERS);
    expect(fifo.lanes[0]!.outliers).toBe(250);
    const note = outliersNote([run('express', 3), fifo]);
    expect(note).toMatch(new RegExp(`only the first ${FIRST_OUTLIERS} per lane and mode`));
    expect(note).toMatch(/\(fifo h1-h2 100 of 250\)/);
    expect(note).not.toMatch(/express/);
  });

  it('says nothing when every outlier was kept', () => {
    expect(outliersNote([run('idle', 0), run('express', FIRST_OUTLIERS)])).toBeUndefined();
  });
});

describe('lateNote', () => {
  it('says where the late messages lost their time, and nothing when none was late', () => {
    const n = 100;
    const samples = {
      receivedNs: new Float64Array(n),
      latencyNs: new Float64Array(n).fill(20_000),
      kernelLatencyNs: new Float64Array(n).fill(15_000),
      count: n,
      lost: 0,
      startNs: 0,
    };
    expect(lateNote('express', analyseLane(W, samples))).toBeUndefined();
    samples.latencyNs[3] = 300_000; // kernel had it at 15 µs: the receiving host
    samples.latencyNs[4] = 400_000;
    samples.kernelLatencyNs[4] = 390_000; // already late on arrival
    expect(lateNote('express', analyseLane(W, samples))).toBe(
      "express h1-h2: 2 messages over λ_max (100 µs): 1 reached h2's kernel within λ_max and were late in its host " +
        "(softirq → engine → application); 1 were already late on arrival (h1's host or the network).",
    );
  });
});

describe('validateInterference', () => {
  it('takes the default options and refuses an application priority out of 1..98', async () => {
    const { loadTopologyFile } = await import('../../src/topology/load.js');
    const spec = loadTopologyFile(new URL('../../examples/testbed-3.yaml', import.meta.url).pathname);
    const o = { ...defaultInterferenceOptions(), command: 'test' };
    expect(o.appFifoPriority).toBe(5);
    expect(() => validateInterference(o, spec)).not.toThrow();
    for (const bad of [0, 99, 2.5])
      expect(() => validateInterference({ ...o, appFifoPriority: bad }, spec)).toThrow(
        /application priority/,
      );
    // The recording's length: a cap below the minimum time, or a message count that is no count.
    expect(() => validateInterference({ ...o, seconds: 20, maxSeconds: 10 }, spec)).toThrow(
      /longest recording/,
    );
    for (const bad of [-1, 1.5, Number.NaN])
      expect(() => validateInterference({ ...o, minMessages: bad }, spec)).toThrow(/messages per lane/);
    // The testbed's knobs: an HTB burst the kernel could not hold, a CPU the machine does not have.
    expect(() => validateInterference({ ...o, htbBurstNs: 500 }, spec)).toThrow(/--htb-burst/);
    expect(() => validateInterference({ ...o, htbBurstNs: 12_000, bulkCpu: 0 }, spec)).not.toThrow();
    for (const bad of [-1, 0.5, 4096])
      expect(() => validateInterference({ ...o, bulkCpu: bad }, spec)).toThrow(/bulk CPU/);
  });

  it('notes say where the bulk ran and the HTB burst', () => {
    const o = { ...defaultInterferenceOptions(), command: 'test' };
    expect(notesFor(o, [], []).join('\n')).toMatch(
      /iperf3 processes not pinned[\s\S]*banks 200 µs of link time/,
    );
    expect(notesFor({ ...o, bulkCpu: 1, htbBurstNs: 12_000 }, [], []).join('\n')).toMatch(
      /pinned to CPU 1[\s\S]*banks 12 µs of link time/,
    );
  });
});

describe('tightnessFloorNote', () => {
  // 20,000 messages at 20 µs but for 20 at 100 µs (p99.9) and 10 at `tail` µs (p99.99 and above).
  function tailRun(mode: InterferenceRunDetail['mode'], tail: number): InterferenceRunDetail {
    const n = 20_000;
    const receivedNs = new Float64Array(n).map((_, i) => i * 100_000);
    const latencyNs = new Float64Array(n).fill(20_000);
    for (let i = 0; i < 30; i++) latencyNs[50 + i * 600] = (i < 20 ? 100 : tail) * 1000;
    const lane = analyseLane(W, { receivedNs, latencyNs, count: n, lost: 0, startNs: 0 });
    return { mode, bulkMbps: 0, lanes: [lane], seconds: 2, startedAt: '', bulk: [], engine: {} };
  }

  it('says a promise could have met both targets when every p99.99 is within 5 × p99.9', () => {
    const note = tightnessFloorNote([tailRun('idle', 300), tailRun('express', 450)]);
    expect(note).toMatch(/idle h1-h2 p99.99 300 µs = 3 × p99.9; express h1-h2 p99.99 450 µs = 4.5 × p99.9/);
    expect(note).toMatch(/would have met both targets on every lane/);
  });

  it('names the lanes whose tail made the two targets exclusive, and ignores fifo', () => {
    const note = tightnessFloorNote([tailRun('idle', 300), tailRun('express', 800), tailRun('fifo', 5000)]);
    expect(note).toMatch(/express h1-h2 had p99.99 above 5 × p99.9, so no promise could have met both/);
    expect(note).not.toMatch(/fifo/);
  });

  it('says nothing for records without the figure', () => {
    const r = tailRun('idle', 300);
    const { tightnessFloor: _, ...older } = r.lanes[0]!;
    expect(tightnessFloorNote([{ ...r, lanes: [older] }])).toBeUndefined();
  });
});

describe('sendRateNote', () => {
  /** A run whose lanes have these send rates (undefined: a record from before the field). */
  const rated = (
    mode: InterferenceRunDetail['mode'],
    ...rates: (number | undefined)[]
  ): InterferenceRunDetail => {
    const r = run(mode, 0);
    const { sendRate: _, ...base } = r.lanes[0]!;
    return { ...r, lanes: rates.map((sendRate) => (sendRate === undefined ? base : { ...base, sendRate })) };
  };

  it('names the modes whose lanes used less than 90 % of their periods, with the range, and why', () => {
    const note = sendRateNote([
      rated('idle', 0.9512, 0.97),
      rated('express', 0.6112, 0.6349),
      rated('fifo', 0.64, 0.64),
    ]);
    expect(note).toMatch(/^the lanes' senders used express 61–63 %, fifo 64 % of their contract's periods/);
    expect(note).not.toMatch(/idle/);
    expect(note).toMatch(/delay beyond E/);
  });

  it('says nothing when every lane kept its rate, or for records without the figure', () => {
    expect(sendRateNote([rated('idle', 0.99, 1.0001), rated('express', 0.9)])).toBeUndefined();
    expect(sendRateNote([rated('idle', undefined, Number.NaN)])).toBeUndefined();
  });
});
