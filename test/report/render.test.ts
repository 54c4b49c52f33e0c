import { parseHTML } from 'linkedom';
import { beforeAll, describe, expect, it } from 'vitest';
import { labelRuns, lanesAcrossRuns } from '../../src/report/model.js';
import { ccdfPoints } from '../../src/report/plot-ccdf.js';
import { seriesPoints } from '../../src/report/plot-series.js';
import { type RenderedReport, renderReport } from '../../src/report/render.js';
import { makeRecord, PINNED } from './fixture.js';

// Minimal DOM shapes for reading linkedom's parse in a project compiled without the DOM lib.
interface El {
  textContent: string | null;
  localName: string;
  parentElement: El | null;
  getAttribute(name: string): string | null;
  querySelectorAll(sel: string): El[];
  closest(sel: string): El | null;
}

function parse(html: string): El {
  return parseHTML(html).document as unknown as El;
}

function all(root: El, sel: string): El[] {
  return Array.from(root.querySelectorAll(sel));
}

function tableByCaption(root: El, start: string): El {
  const t = all(root, 'table').find((x) =>
    (x.querySelectorAll('caption')[0]?.textContent ?? '').startsWith(start),
  );
  if (!t) throw new Error(`no table "${start}"`);
  return t;
}

function cellTexts(row: El): string[] {
  return all(row, 'td').map((td) => (td.textContent ?? '').trim());
}

/** `translate(123.4,56)` → 123.4 */
function translateX(el: El): number {
  const m = /translate\(([-\d.e]+),/.exec(el.getAttribute('transform') ?? '');
  if (!m) throw new Error('no translate');
  return Number(m[1]);
}

describe('report rendering', () => {
  let report: RenderedReport;
  let doc: El;

  beforeAll(() => {
    report = renderReport(makeRecord());
    doc = parse(report.html);
  });

  it('draws one CCDF per lane receiver and one time series per run, each an <svg> in its figure', () => {
    expect(report.figures.map((f) => f.file)).toEqual([
      'ccdf-l1-h3.svg',
      'ccdf-l2-h3.svg',
      'series-idle.svg',
      'series-express.svg',
      'series-fifo.svg',
    ]);
    const topLevel = all(doc, 'svg').filter((s) => !s.parentElement?.closest('svg'));
    expect(topLevel).toHaveLength(5);
    expect(all(doc, 'figure > svg')).toHaveLength(5);
    // Each time series stacks its latency and bulk panels in one svg.
    for (const f of all(doc, 'figure[id^="series-"] > svg')) expect(all(f, ':scope > svg')).toHaveLength(2);
  });

  it('puts the λ_max rule of a CCDF where the log x axis has the bound', () => {
    const svg = all(doc, 'figure#ccdf-l1-h3 > svg')[0]!;
    const rule = all(svg, 'g.xl-lambda-max line');
    expect(rule).toHaveLength(1);
    const x = Number(rule[0]!.getAttribute('x1'));
    expect(Number(rule[0]!.getAttribute('x2'))).toBe(x);
    const tick = (label: string) =>
      translateX(all(svg, 'g[aria-label="x-axis tick label"] text').find((t) => t.textContent === label)!);
    const [x200, x300] = [tick('200'), tick('300')];
    const expected = x200 + (Math.log(224 / 200) / Math.log(300 / 200)) * (x300 - x200);
    expect(Math.abs(x - expected)).toBeLessThan(0.5);
    expect(svg.textContent).toContain('λ_max 224 µs');
    expect(all(svg, 'g.xl-lambda-min line')).toHaveLength(1);
    expect(svg.textContent).toContain('λ_min 8.50 µs');
  });

  it('draws λ_max in every lane band of a time series', () => {
    const svg = all(doc, 'figure#series-express > svg')[0]!;
    expect(all(svg, 'g.xl-lambda-max line')).toHaveLength(2);
    expect(svg.textContent).toContain('λ_max 220 µs');
    expect(all(doc, 'figure#series-idle > svg')[0]!.textContent).toContain('no bulk traffic in this run');
  });

  it('shows the fixture numbers in the summary table', () => {
    const summary = all(doc, 'table')[0]!;
    expect(summary.querySelectorAll('caption')[0]!.textContent).toBe(
      'Latency per run and lane (one-way, µs)',
    );
    const rows = all(summary, 'tbody tr');
    expect(rows).toHaveLength(6);
    const express = cellTexts(rows[2]!);
    expect(express).toEqual([
      'express',
      '941.3',
      'hb-h1-h3 (L1) h1 → h3',
      String(PINNED.p50Us),
      String(PINNED.p99Us),
      String(PINNED.p999Us),
      String(PINNED.p9999Us),
      String(PINNED.maxUs),
      '224',
      '99.99%',
      '3.91× (floor 1.39×)',
      '19,998 (72% of periods)',
      '2',
      '7',
    ]);
    // The row of the second lane is covered by the run's rowspans: it starts at the lane.
    expect(cellTexts(rows[3]!)[0]).toBe('raft-h2-h3 (L2) h2 → h3');
    const fifo = cellTexts(rows[4]!);
    expect(fifo[0]).toBe('fifo');
    expect(all(rows[4]!, 'td.miss').length).toBeGreaterThan(0);
  });

  it('shows the allocation: lanes and ports', () => {
    const [lanes, ports] = [tableByCaption(doc, 'Lanes granted'), tableByCaption(doc, 'Egress ports')];
    expect(cellTexts(all(lanes, 'tbody tr')[0]!)).toEqual([
      'hb-h1-h3 (L1)',
      'h1 → h3',
      '64 B',
      '100 µs',
      '50 µs',
      '8.50',
      '224',
      'h1 → s1 → h3',
    ]);
    // A record from before grants had phases: a dash.
    expect(cellTexts(all(lanes, 'tbody tr')[1]!).slice(3, 7)).toEqual(['1 ms', '–', '8.50', '220']);
    expect(cellTexts(all(ports, 'tbody tr')[0]!)).toEqual([
      'h1 → s1',
      '1 Gbit/s',
      '20.00%',
      '5.12 Mbit/s',
      '2.56%',
      '33.7',
    ]);
  });

  it('shows the host bounds the controller used, declared or calibrated', () => {
    const rows = all(tableByCaption(doc, 'Host send / receive bounds'), 'tbody tr').map(cellTexts);
    expect(rows).toEqual([
      ['h1', 'topology', '2.00 … 10.0', '3.00 … 12.0', '—', '—'],
      ['h3', 'calibration', '1.50 … 22.4', '2.00 … 31.7', '48.2', '5,000'],
    ]);
    const without = makeRecord();
    delete without.hostBounds;
    expect(renderReport(without).html).not.toContain('Host send / receive bounds');
  });

  it('shows runs with engine modes, the command, machine and notes', () => {
    const runs = tableByCaption(doc, 'Runs and how');
    expect(cellTexts(all(runs, 'tbody tr')[2]!)).toEqual([
      'fifo',
      '2025-01-01T10:02:00.000Z',
      '10',
      '936.8',
      '1000.0',
      '95.51% / 1.20%',
      'engine=native receive=blocking fifoPriority=true',
    ]);
    // A run recorded before link rate and CPU share were: dashes.
    expect(cellTexts(all(runs, 'tbody tr')[0]!).slice(4, 6)).toEqual(['—', '—']);
    expect(all(doc, 'pre')[0]!.textContent).toBe(
      'xlane bench interference --topology examples/testbed-3.yaml --seconds 10',
    );
    expect(doc.querySelectorAll('dl.meta')[0]!.textContent).toContain(
      '2 CPUs, load average 0.42, kernel 6.1.0-test',
    );
    expect(all(doc, 'ul.notes li').map((li) => li.textContent)).toEqual([
      'fixture data, not a measurement',
      'the two hosts share 2 vCPUs with the bulk flow',
    ]);
  });

  it('shows the bench’s verdict on each target: met, missed, not judged', () => {
    const t = tableByCaption(doc, 'Targets');
    const rows = all(t, 'tbody tr').map(cellTexts);
    expect(rows.map((r) => r[1])).toEqual(['met', 'met', 'missed', 'met', 'met', 'not judged']);
    expect(rows[2]![0]).toContain('99.99 %');
    expect(all(t, 'td.miss')).toHaveLength(1);
    // A record without verdicts (older bench) has no such table.
    const { targets: _t, ...old } = makeRecord();
    expect(renderReport(old).html).not.toContain('<caption>Targets');
  });

  it('is self-contained: no script, no external reference', () => {
    expect(report.html).not.toMatch(/<script|<link|<img|<iframe|\bsrc=|@import/i);
    const urls = report.html.match(/https?:\/\/[^\s"'<>)]*/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg']));
    expect(report.html).not.toMatch(/url\((?!#)/);
  });

  it('gives every figure unique element ids', () => {
    const ids = all(doc, '[id]').map((e) => e.getAttribute('id'));
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('report of a sparse record', () => {
  it('draws runs without lanes, lanes without messages and empty windows without NaN in any figure', () => {
    const r = makeRecord();
    Object.assign(r.runs[1]!.lanes[1]!, {
      messages: 0,
      cdf: [],
      series: [],
      firstOutliers: [],
      p50Us: 0,
      p99Us: 0,
      p999Us: 0,
      maxUs: 0,
      withinBound: 0,
      outliers: 0,
      tightness: 0,
    });
    r.runs[0]!.lanes = [];
    r.runs[2]!.lanes[0]!.series[4]!.messages = 0;
    const report = renderReport(r);
    expect(report.figures).toHaveLength(5);
    for (const f of report.figures) expect(f.svg).not.toMatch(/NaN|Infinity|undefined/);
    const rows = all(all(parse(report.html), 'table')[0]!, 'tbody tr');
    expect(cellTexts(rows[0]!)).toEqual(['idle', '0.0', 'no lanes measured']);
  });

  it('draws bulk samples from before the run started left of t = 0', () => {
    const r = makeRecord();
    r.runs[1]!.bulk.unshift({ tSec: -1.5, mbps: 900 }, { tSec: -1, mbps: 920 });
    const svg = renderReport(r).figures.find((f) => f.file === 'series-express.svg')!.svg;
    const doc = parse(`<body>${svg}</body>`);
    const zero = all(doc, 'g[aria-label="x-axis tick label"] text').find((t) => t.textContent === '0')!;
    // The plot frame starts at x = 60: t = 0 sits 1.5 s of the 11.5 s axis to the right of it.
    const frame = 720 - 60 - 24;
    expect(translateX(zero)).toBeCloseTo(60 + (1.5 / 11.5) * frame, 0);
  });

  it('renders a record without runs as a page without figures', () => {
    const r = makeRecord();
    r.runs = [];
    const report = renderReport(r);
    expect(report.figures).toEqual([]);
    expect(report.html).toContain('no lanes measured');
  });
});

describe('report escaping', () => {
  const hostile = '<script>alert("x")</script>';
  const record = makeRecord({
    laneNames: [hostile, "a&b 'q'"],
    laneIds: ['../../etc/passwd', 'L2'],
    notes: ['<b>bold?</b> & more'],
  });
  record.command = 'xlane bench interference --note "<i>"';
  const report = renderReport(record);

  it('escapes names from the record in tables, figures, notes and the command', () => {
    expect(report.html).not.toContain('<script>');
    expect(report.html).not.toContain('<b>bold');
    expect(report.html).not.toContain('"<i>"');
    expect(report.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    const doc = parse(report.html);
    const summaryLane = cellTexts(all(doc, 'table')[0]!.querySelectorAll('tbody tr')[0]!)[2];
    expect(summaryLane).toBe(`${hostile} (../../etc/passwd) h1 → h3`);
    expect(cellTexts(tableByCaption(doc, 'Lanes granted').querySelectorAll('tbody tr')[1]!)[0]).toBe(
      "a&b 'q' (L2)",
    );
    expect(all(doc, 'ul.notes li')[0]!.textContent).toBe('<b>bold?</b> & more');
    expect(all(doc, 'pre')[0]!.textContent).toBe(record.command);
    const ccdf = report.figures[0]!.svg;
    expect(ccdf).toContain('&lt;script&gt;alert("x")&lt;/script&gt;');
    expect(ccdf).not.toContain('<script');
  });

  it('never takes a file name from the record raw', () => {
    for (const f of report.figures) expect(f.file).toMatch(/^[a-z0-9_-]+\.svg$/);
    expect(report.figures[0]!.file).toBe('ccdf-etc-passwd-h3.svg');
  });
});

describe('figure data', () => {
  const runs = labelRuns(makeRecord());
  const [lane] = lanesAcrossRuns(runs);

  it('follows one lane receiver across the runs', () => {
    expect(lane!.runs.map((r) => r.label)).toEqual(['idle', 'express', 'fifo']);
    expect(lane!.boundUs).toBe(224);
  });

  it('clamps 1 − F at 1/messages so the slowest message stays on the log axis', () => {
    const { points, maxima, floor } = ccdfPoints(lane!);
    expect(points.every((p) => p.y > 0 && p.y <= 1 && p.x > 0)).toBe(true);
    expect(floor).toBe(1 / 20_000);
    const fifo = points.filter((p) => p.label === 'fifo');
    expect(fifo[fifo.length - 1]!.y).toBe(1 / 20_000);
    expect(maxima.map((m) => m.label)).toEqual(['idle', 'express', 'fifo']);
  });

  it('labels a mode that ran twice apart', () => {
    const r = makeRecord();
    r.runs.push(structuredClone(r.runs[1]!));
    expect(labelRuns(r).map((x) => x.label)).toEqual(['idle', 'express #1', 'fifo', 'express #2']);
    expect(renderReport(r).figures.map((f) => f.file)).toContain('series-express-2.svg');
  });

  it('leaves a gap for a window without messages instead of drawing 0 on a log axis', () => {
    const run = structuredClone(runs[2]!.run);
    run.lanes[0]!.series[3] = { tSec: 0.4, p50Us: 0, p99Us: 0, maxUs: 0, messages: 0 };
    const gap = seriesPoints(run).filter((p) => p.t === 0.4 && p.lane.startsWith('hb-h1-h3'));
    expect(gap).toHaveLength(3);
    expect(gap.every((p) => Number.isNaN(p.us))).toBe(true);
  });
});
