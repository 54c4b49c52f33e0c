import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InterferenceRecord } from '../../src/bench/interference-types.js';
import { isXlaneError, type XlaneError } from '../../src/errors.js';
import { loadRecord, parseRecord } from '../../src/report/load.js';
import { makeRecord } from './fixture.js';

const root = mkdtempSync(join(tmpdir(), 'xlane-report-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function caught(fn: () => unknown): XlaneError {
  try {
    fn();
  } catch (e) {
    if (isXlaneError(e)) return e;
    throw e;
  }
  throw new Error('expected an XlaneError');
}

/** Lets a test write a value of the wrong type into a record. */
function loose(o: object): Record<string, unknown> {
  return o as Record<string, unknown>;
}

/** The fixture as it would arrive from a file, with one edit applied. */
function parseEdited(edit: (r: InterferenceRecord) => void): XlaneError {
  const r = JSON.parse(JSON.stringify(makeRecord())) as InterferenceRecord;
  edit(r);
  return caught(() => parseRecord(JSON.stringify(r), 'run/interference.json'));
}

describe('loading RUN_DIR/interference.json', () => {
  it('accepts the fixture after a JSON round trip, extra keys included', () => {
    const r = loose(JSON.parse(JSON.stringify(makeRecord())));
    r.futureField = { added: 'by a newer bench' };
    const back = parseRecord(JSON.stringify(r), 'x.json');
    expect(back.runs.map((run) => run.mode)).toEqual(['idle', 'express', 'fifo']);
  });

  it('accepts times before the run started (the bulk flow warms up first)', () => {
    const r = makeRecord();
    r.runs[1]!.bulk.unshift({ tSec: -1.5, mbps: 900 });
    expect(parseRecord(JSON.stringify(r), 'x.json').runs[1]!.bulk[0]!.tSec).toBe(-1.5);
  });

  it('reports a missing run folder as XL_ERR_NOT_FOUND naming the file', () => {
    const e = caught(() => loadRecord(join(root, 'nope')));
    expect(e.code).toBe('XL_ERR_NOT_FOUND');
    expect(e.message).toContain(join(root, 'nope', 'interference.json'));
  });

  it('reports a folder without interference.json as XL_ERR_NOT_FOUND', () => {
    const dir = join(root, 'empty');
    mkdirSync(dir);
    expect(caught(() => loadRecord(dir)).code).toBe('XL_ERR_NOT_FOUND');
  });

  it('reports text that is not JSON as XL_ERR_BAD_JSON naming the file', () => {
    const dir = join(root, 'bad-json');
    mkdirSync(dir);
    writeFileSync(join(dir, 'interference.json'), '{"kind": "xlane-interference", ');
    const e = caught(() => loadRecord(dir));
    expect(e.code).toBe('XL_ERR_BAD_JSON');
    expect(e.message).toContain('interference.json is not valid JSON');
  });

  it('names a wrongly typed field by its path', () => {
    const e = parseEdited((r) => {
      loose(r.runs[1]!.lanes[0]!).boundUs = 'fast';
    });
    expect(e.code).toBe('XL_ERR_VALIDATION');
    expect(e.message).toContain('runs[1].lanes[0].boundUs: expected a number, got "fast"');
    expect(e.details?.issues).toEqual([
      { path: 'runs[1].lanes[0].boundUs', message: 'expected a number, got "fast"' },
    ]);
  });

  it('names a missing field, an unknown mode and a fraction out of range', () => {
    const e = parseEdited((r) => {
      delete loose(r.allocation.ports[0]!).delayBoundUs;
      loose(r.runs[0]!).mode = 'turbo';
      r.runs[2]!.lanes[1]!.cdf[5]!.fraction = 1.5;
    });
    expect(e.code).toBe('XL_ERR_VALIDATION');
    expect(e.message).toContain('allocation.ports[0].delayBoundUs: required field is missing');
    expect(e.message).toContain('runs[0].mode: expected "idle", "express" or "fifo", got "turbo"');
    expect(e.message).toContain(
      'runs[2].lanes[1].cdf[5].fraction: expected a fraction between 0 and 1, got 1.5',
    );
  });

  it('says so in one sentence when the file is of another kind or version', () => {
    const other = caught(() => parseRecord('{"kind":"something-else"}', 'other.json'));
    expect(other.code).toBe('XL_ERR_VALIDATION');
    expect(other.message).toBe(
      'other.json is not an interference record: kind is "something-else", not "xlane-interference"',
    );
    const array = caught(() => parseRecord('[1, 2]', 'list.json'));
    expect(array.message).toContain('kind is nothing');
    const newer = parseEdited((r) => {
      loose(r).version = 2;
    });
    expect(newer.message).toContain('version 2 is not supported');
  });

  it('lists at most five issues and counts the rest', () => {
    const e = caught(() => parseRecord('{"kind":"xlane-interference","version":1}', 'thin.json'));
    expect(e.message).toContain('createdAt: required field is missing');
    expect(e.message).toMatch(/… and 2 more$/);
    expect(e.message.split('\n').filter((l) => /^ {2}\w+: /.test(l))).toHaveLength(5);
    expect(e.details?.issues).toHaveLength(7);
  });

  it('accepts null for the figures of a lane without messages (the bench wrote NaN there)', () => {
    const r = JSON.parse(JSON.stringify(makeRecord())) as InterferenceRecord;
    const lane = loose(r.runs[0]!.lanes[0]!);
    for (const k of ['p50Us', 'p99Us', 'p999Us', 'maxUs', 'withinBound', 'tightness']) lane[k] = null;
    Object.assign(lane, { messages: 0, outliers: 0, cdf: [], series: [], firstOutliers: [] });
    const back = parseRecord(JSON.stringify(r), 'x.json').runs[0]!.lanes[0]!;
    expect([back.p50Us, back.withinBound, back.tightness]).toEqual([null, null, null]);
  });

  it('rejects null anywhere else a number must be (NaN and Infinity become null in JSON)', () => {
    const e = parseEdited((r) => {
      loose(r.runs[0]!.lanes[0]!).boundUs = null;
      loose(r.runs[0]!.lanes[1]!.series[0]!).p99Us = null;
      loose(r.runs[1]!.lanes[0]!).p99Us = 'fast';
    });
    expect(e.message).toContain('runs[0].lanes[0].boundUs: expected a number, got null');
    expect(e.message).toContain('runs[0].lanes[1].series[0].p99Us: expected a number, got null');
    expect(e.message).toContain(
      'runs[1].lanes[0].p99Us: expected a latency in µs (≥ 0), or null for a lane without messages, got "fast"',
    );
  });
});
