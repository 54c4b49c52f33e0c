// Outlier times are kept only for the first FIRST_OUTLIERS of a lane; the record must say so when
// that cut anything, or the report's dots would pass for all of them.
import { describe, expect, it } from 'vitest';
import { outliersNote } from '../../src/bench/interference.js';
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
