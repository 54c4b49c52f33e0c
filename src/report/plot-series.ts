// Figure 2, one per run: latency per window against time (p50, p99 and max on log y, one band per
// lane receiver, λ_max as a rule, outliers as dots) above the bulk goodput on the same time axis, so a
// latency excursion can be matched to what the cross traffic did at that moment. λ_min is left out
// here (it is in the CDF figure): on a log axis it would stretch the band far below the data. The two panels are
// two Plot charts with the same x domain and margins, nested in one outer <svg>.
import type * as PlotTypes from '@observablehq/plot';
import * as Plot from '@observablehq/plot';
import { fmtUs } from './format.js';
import { laneTitle } from './model.js';
import {
  addTitle,
  createSvgElement,
  type DomElement,
  modeColor,
  type PlotDocument,
  plotElement,
} from './plot-dom.js';
import type { SavedRunDetail } from './schema.js';
import { svgToXml } from './svg-xml.js';

const WIDTH = 720;
const MARGIN_LEFT = 60;
const MARGIN_RIGHT = 24;
const LANE_HEIGHT = 150;
const BULK_HEIGHT = 170;

const STATS = [
  { key: 'p50Us', name: 'p50', color: '#2563eb' },
  { key: 'p99Us', name: 'p99', color: '#f59e0b' },
  { key: 'maxUs', name: 'max', color: '#7c3aed' },
] as const;

interface WindowPoint {
  t: number;
  /** NaN for a window without messages, so the line shows a gap instead of bridging it. */
  us: number;
  stat: string;
  lane: string;
}

function positiveOrNaN(v: number, messages: number): number {
  return messages > 0 && v > 0 ? v : Number.NaN;
}

export function seriesPoints(run: SavedRunDetail): WindowPoint[] {
  const out: WindowPoint[] = [];
  for (const d of run.lanes) {
    const lane = laneTitle(d);
    for (const s of STATS)
      for (const w of d.series)
        out.push({ t: w.tSec, us: positiveOrNaN(w[s.key], w.messages), stat: s.name, lane });
  }
  return out;
}

/** The shared time axis: from the earliest sample (the bulk flow may start before t = 0) to the end. */
function timeExtent(run: SavedRunDetail): [number, number] {
  let lo = 0;
  let hi = run.seconds;
  const times = [...run.lanes.flatMap((d) => d.series.map((w) => w.tSec)), ...run.bulk.map((b) => b.tSec)];
  for (const t of times) {
    lo = Math.min(lo, t);
    hi = Math.max(hi, t);
  }
  return [lo, hi > lo ? hi : lo + 1];
}

/**
 * The log y domain of the latency bands: data and every λ_max, padded by 15% of the span on both
 * ends so a rule never sits on the frame edge, where its label would run into the lane title.
 */
export function latencyDomain(points: WindowPoint[], extra: number[]): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const v of [...points.map((p) => p.us), ...extra]) {
    if (!(v > 0) || !Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi === 0) return [1, 10];
  const pad = Math.max(0.1, 0.15 * Math.log10(hi / lo));
  return [lo / 10 ** pad, hi * 10 ** pad];
}

function latencyPanel(doc: PlotDocument, run: SavedRunDetail, time: [number, number]): DomElement {
  const lanes = run.lanes.map((d) => laneTitle(d));
  // A lane that received nothing keeps its band (and λ_max rule) with no lines, and says why.
  const silent = new Set(run.lanes.filter((d) => !(d.messages > 0)).map((d) => laneTitle(d)));
  const bounds = run.lanes.map((d) => ({ lane: laneTitle(d), y: d.boundUs }));
  const outliers = run.lanes.flatMap((d) =>
    d.firstOutliers
      .filter((o) => o.latencyUs > 0)
      .map((o) => ({ lane: laneTitle(d), t: o.tSec, us: o.latencyUs })),
  );
  const points = seriesPoints(run);
  const domain = latencyDomain(points, [...bounds.map((b) => b.y), ...outliers.map((o) => o.us)]);
  const legend = [
    ...STATS.map((s) => ({ text: `━ ${s.name}`, color: s.color })),
    { text: '● outlier', color: '#dc2626' },
  ];
  const marks: PlotTypes.Markish[] = [
    Plot.frame({ stroke: '#e5e7eb' }),
    Plot.ruleY(bounds, {
      fy: 'lane',
      y: 'y',
      stroke: '#111827',
      strokeWidth: 1.5,
      className: 'xl-lambda-max',
    }),
    Plot.text(bounds, {
      fy: 'lane',
      y: 'y',
      text: (d: { y: number }) => `λ_max ${fmtUs(d.y)} µs`,
      frameAnchor: 'left',
      textAnchor: 'start',
      dx: 4,
      dy: -7,
      fill: '#111827',
    }),
    Plot.line(points, {
      x: 't',
      y: 'us',
      z: 'stat',
      stroke: 'stat',
      fy: 'lane',
      strokeWidth: 1.3,
    }),
    Plot.dot(outliers, { x: 't', y: 'us', fy: 'lane', r: 2.5, fill: '#dc2626' }),
    // Lane titles sit in the gap above each band, the legend in the top margin: neither hides data.
    Plot.text(lanes, {
      fy: (d: string) => d,
      text: (d: string) => `${d} — ${silent.has(d) ? 'no messages' : 'latency per window (µs)'}`,
      frameAnchor: 'top-left',
      textAnchor: 'start',
      lineAnchor: 'bottom',
      dy: -5,
      fontWeight: 'bold',
    }),
    ...legend.map((l, i) =>
      Plot.text([l.text], {
        text: (d: string) => d,
        frameAnchor: 'top-right',
        textAnchor: 'end',
        lineAnchor: 'bottom',
        dx: -(legend.length - 1 - i) * 64,
        dy: -5,
        fill: l.color,
        fontWeight: 'bold',
        facetAnchor: 'top',
      }),
    ),
  ];
  return plotElement(doc, {
    width: WIDTH,
    height: 30 + Math.max(1, lanes.length) * LANE_HEIGHT + 30,
    marginLeft: MARGIN_LEFT,
    marginRight: MARGIN_RIGHT,
    marginTop: 30,
    marginBottom: 30,
    x: { domain: time, label: null },
    y: { type: 'log', domain, label: null, grid: true },
    fy: { domain: lanes, axis: null, padding: 0.2 },
    color: { domain: STATS.map((s) => s.name), range: STATS.map((s) => s.color) },
    marks,
  });
}

function bulkPanel(doc: PlotDocument, run: SavedRunDetail, time: [number, number]): DomElement {
  const color = modeColor(run.mode);
  const empty = run.bulk.length === 0;
  // iperf3 reports each interval at its end and intervals run back to back from the start, so the
  // first sample also covers (0, t₁]: drawn with step-before from t = 0.
  const first = run.bulk[0];
  const bulk = first && first.tSec > 0 ? [{ tSec: 0, mbps: first.mbps }, ...run.bulk] : run.bulk;
  const marks: PlotTypes.Markish[] = empty
    ? [
        Plot.frame({ stroke: '#e5e7eb' }),
        Plot.text(['no bulk traffic in this run'], {
          text: (d: string) => d,
          frameAnchor: 'middle',
          fill: '#6b7280',
        }),
      ]
    : [
        Plot.areaY(bulk, { x: 'tSec', y: 'mbps', fill: color, fillOpacity: 0.15, curve: 'step-before' }),
        Plot.lineY(bulk, { x: 'tSec', y: 'mbps', stroke: color, strokeWidth: 1.5, curve: 'step-before' }),
        Plot.ruleY([0]),
      ];
  return plotElement(doc, {
    width: WIDTH,
    height: BULK_HEIGHT,
    marginLeft: MARGIN_LEFT,
    marginRight: MARGIN_RIGHT,
    marginTop: 24,
    marginBottom: 40,
    x: { domain: time, label: 'seconds since the run started →' },
    y: empty
      ? { domain: [0, 1], ticks: [], label: '↑ bulk goodput (Mbit/s)' }
      : { label: '↑ bulk goodput (Mbit/s)', grid: true, nice: true },
    marks,
  });
}

function numberAttr(el: DomElement, name: string): number {
  return Number(el.getAttribute(name) ?? '0');
}

/** Nest the panels in one svg. The outer svg takes Plot's class and stylesheet; inner svgs drop
 *  theirs, because Plot's CSS (`height: auto`) would resize a nested svg. */
function stack(doc: PlotDocument, panels: DomElement[]): DomElement {
  const first = panels[0]!;
  const outer = createSvgElement(doc, 'svg');
  const width = Math.max(...panels.map((p) => numberAttr(p, 'width')));
  const height = panels.reduce((h, p) => h + numberAttr(p, 'height'), 0);
  outer.setAttribute('viewBox', `0 0 ${width} ${height}`);
  outer.setAttribute('width', String(width));
  outer.setAttribute('height', String(height));
  for (const name of ['class', 'font-family', 'font-size', 'text-anchor', 'fill', 'style']) {
    const v = first.getAttribute(name);
    if (v !== null) outer.setAttribute(name, v);
  }
  let y = 0;
  for (const p of panels) {
    for (const child of Array.from(p.childNodes) as DomElement[]) {
      if (child.localName !== 'style') continue;
      p.removeChild(child);
      if (p === first) outer.appendChild(child);
    }
    p.removeAttribute('class');
    p.removeAttribute('style');
    p.setAttribute('x', '0');
    p.setAttribute('y', String(y));
    y += numberAttr(p, 'height');
    outer.appendChild(p);
  }
  return outer;
}

export function seriesSvg(doc: PlotDocument, run: SavedRunDetail, title: string, idPrefix: string): string {
  const time = timeExtent(run);
  const outer = stack(doc, [latencyPanel(doc, run, time), bulkPanel(doc, run, time)]);
  addTitle(doc, outer, title);
  return svgToXml(outer, idPrefix);
}
