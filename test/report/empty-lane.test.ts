// A lane that received nothing, end to end as the bench makes it: the real analyseLane on an empty
// recording (NaN figures), JSON as the bench writes it (NaN → null), then the report writer that
// `xlane report` and `xlane demo` call. It used to stop at XL_ERR_VALIDATION.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHTML } from 'linkedom';
import { afterAll, describe, expect, it } from 'vitest';
import { analyseLane } from '../../src/bench/interference-stats.js';
import type { InterferenceRecord, LaneLatencyDetail } from '../../src/bench/interference-types.js';
import { NO_DATA_FIELDS, OPTIONAL_NO_DATA_FIELDS } from '../../src/report/schema.js';
import { writeReport } from '../../src/report/write.js';
import { makeRecord } from './fixture.js';

const root = mkdtempSync(join(tmpdir(), 'xlane-report-empty-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What analyseLane gives for `like`'s window when not one frame arrived. */
function emptyLane(like: LaneLatencyDetail): LaneLatencyDetail {
  const none = new Float64Array(0);
  return analyseLane(
    {
      lane: like.lane,
      name: like.name,
      from: like.from,
      to: like.to,
      periodNs: like.periodNs,
      payloadBytes: like.payloadBytes,
      lambdaMinNs: like.lambdaMinUs * 1000,
      lambdaMaxNs: like.boundUs * 1000,
    },
    { receivedNs: none, latencyNs: none, count: 0, lost: 0, startNs: 0 },
  );
}

/** A run folder holding `record` exactly as `xlane bench interference` writes it. */
function runDir(name: string, record: InterferenceRecord): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'interference.json'), `${JSON.stringify(record, null, 1)}\n`);
  return dir;
}

interface El {
  textContent: string | null;
  className: string;
  querySelectorAll(sel: string): El[];
}

/** The summary table's rows as cell texts, and the class of each cell. */
function summaryRows(html: string): { texts: string[]; classes: string[] }[] {
  const doc = parseHTML(html).document as unknown as El;
  const summary = doc.querySelectorAll('table')[0]!;
  return Array.from(summary.querySelectorAll('tbody tr')).map((tr) => {
    const cells = Array.from(tr.querySelectorAll('td'));
    return { texts: cells.map((c) => (c.textContent ?? '').trim()), classes: cells.map((c) => c.className) };
  });
}

describe('report of a lane that received no messages', () => {
  it('starts from what the bench really writes: NaN figures, saved as null', () => {
    const lane = emptyLane(makeRecord().runs[1]!.lanes[1]!);
    const saved = JSON.parse(JSON.stringify(lane)) as Record<string, unknown>;
    for (const k of [...NO_DATA_FIELDS, ...OPTIONAL_NO_DATA_FIELDS]) expect(saved[k], k).toBeNull();
    expect(saved.messages).toBe(0);
  });

  it('writes the report with "no messages" and dashes in the summary instead of failing', () => {
    const record = makeRecord();
    record.runs[1]!.lanes[1] = emptyLane(record.runs[1]!.lanes[1]!);
    const dir = runDir('one-run', record);
    const r = writeReport(dir);
    expect(r.svgs).toHaveLength(5);
    const html = readFileSync(r.html, 'utf8');
    expect(html).not.toMatch(/NaN|Infinity|null|undefined/);
    // Rows: idle L1, idle L2, express L1, express L2 (the empty one), …; run cells are rowspans.
    const row = summaryRows(html)[3]!;
    expect(row.texts).toEqual([
      'raft-h2-h3 (L2) h2 → h3',
      '—',
      '—',
      '—',
      '—',
      '—',
      '220',
      'no messages',
      '—',
      '0',
      '0',
      '0',
    ]);
    // No figure is judged green; the lane that delivered nothing is a miss.
    expect(row.classes.filter((c) => c.includes('ok'))).toEqual([]);
    expect(row.classes[7]).toContain('miss');
    // The lane's CCDF skips that run and says so in its legend; the run's series marks the band.
    for (const f of r.svgs) expect(readFileSync(f, 'utf8')).not.toMatch(/NaN|Infinity|undefined/);
    const ccdf = readFileSync(join(dir, 'ccdf-l2-h3.svg'), 'utf8');
    expect(ccdf).toContain('express: no messages');
    expect(readFileSync(join(dir, 'series-express.svg'), 'utf8')).toContain('no messages');
  });

  it('draws a lane that received nothing in any run as empty axes with a note', () => {
    const record = makeRecord();
    for (const run of record.runs) run.lanes[0] = emptyLane(run.lanes[0]!);
    const r = writeReport(runDir('every-run', record));
    const ccdf = readFileSync(r.svgs[0]!, 'utf8');
    expect(r.svgs[0]!.endsWith('ccdf-l1-h3.svg')).toBe(true);
    expect(ccdf).not.toMatch(/NaN|Infinity|undefined/);
    for (const mode of ['idle', 'express', 'fifo']) expect(ccdf).toContain(`${mode}: no messages`);
    const rows = summaryRows(readFileSync(r.html, 'utf8'));
    expect(rows.filter((x) => x.texts.includes('no messages'))).toHaveLength(3);
  });
});
