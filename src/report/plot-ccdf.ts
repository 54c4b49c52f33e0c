// Figure 1, one per lane receiver: the latency distribution of every run on log–log axes, with the
// promised window [λ_min, λ_max] as vertical rules.
//
// Why the complementary CDF (1 − F) on a log y axis rather than the CDF: the promise is about the
// worst message, and on a linear CDF everything past p99 is squeezed into the top 1% of the plot
// height. On log y, p90, p99 and p99.9 are evenly spaced decades, the tail is as tall as the body,
// and "every message stayed left of λ_max" is read at a glance: the curve must reach the bottom of
// the plot before the λ_max rule. The x axis is log too because idle and FIFO-under-load latencies
// differ by orders of magnitude.
//
// 1 − F(x) is 0 at the largest sample, which a log axis cannot show; it is clamped at 1/n (n =
// messages of that run), which is exactly P(latency ≥ max). The y axis therefore ends at 1/n: the
// smallest tail probability the run can resolve.
//
// A run in which the lane received nothing has no curve (its figures are null in the file): the
// legend says "no messages" for it, and a lane without messages in any run gets empty axes.
import type * as PlotTypes from '@observablehq/plot';
import * as Plot from '@observablehq/plot';
import { fmtUs } from './format.js';
import type { LaneAcrossRuns } from './model.js';
import { modeColor, type PlotDocument, plotSvg } from './plot-dom.js';

interface Point {
  x: number;
  y: number;
  label: string;
}

const REFERENCE_TAILS = [
  { y: 0.5, text: 'p50' },
  { y: 0.01, text: 'p99' },
  { y: 0.001, text: 'p99.9' },
];

function decadeBelow(v: number): number {
  return 10 ** Math.floor(Math.log10(v) + 1e-9);
}

function tailLabel(d: number): string {
  return d >= 0.001 ? String(d) : `1e${Math.round(Math.log10(d))}`;
}

/** The points of one lane: one step curve per run that delivered anything (the others are skipped). */
export function ccdfPoints(lane: LaneAcrossRuns): { points: Point[]; maxima: Point[]; floor: number } {
  const points: Point[] = [];
  const maxima: Point[] = [];
  let floor = 1;
  for (const { label, detail } of lane.runs) {
    if (detail.messages <= 0) continue;
    const least = 1 / detail.messages;
    floor = Math.min(floor, least);
    for (const p of detail.cdf) {
      if (p.latencyUs > 0) points.push({ x: p.latencyUs, y: Math.max(1 - p.fraction, least), label });
    }
    if (detail.maxUs !== null && detail.maxUs > 0) maxima.push({ x: detail.maxUs, y: least, label });
  }
  return { points, maxima, floor };
}

export function ccdfSvg(doc: PlotDocument, lane: LaneAcrossRuns, title: string, idPrefix: string): string {
  const { points, maxima, floor } = ccdfPoints(lane);
  const labels = lane.runs.map((r) => r.label);
  const colors = lane.runs.map((r) => modeColor(r.mode));
  // At least one decade: with no curve (or one message) the floor is 1, and a log axis [1, 1] is void.
  const yMin = Math.min(decadeBelow(floor), 0.1);
  const decades: number[] = [];
  for (let d = 1; d >= yMin * 0.999; d /= 10) decades.push(d);
  const tails = REFERENCE_TAILS.filter((t) => t.y >= yMin);
  const lambdaMin = lane.lambdaMinUs > 0 ? [lane.lambdaMinUs] : [];
  // With no curve the x domain would end on the λ rules and cut the λ_max label off: pad it.
  const lo = Math.min(lane.lambdaMinUs > 0 ? lane.lambdaMinUs : lane.boundUs, lane.boundUs);
  const xDomain = points.length === 0 && lo > 0 ? { domain: [lo / 2, lane.boundUs * 4] } : {};

  const marks: PlotTypes.Markish[] = [
    Plot.ruleY(tails, { y: 'y', stroke: '#d1d5db', strokeDasharray: '2,3' }),
    Plot.text(tails, {
      y: 'y',
      text: 'text',
      frameAnchor: 'right',
      textAnchor: 'end',
      dx: -4,
      dy: -6,
      fill: '#6b7280',
    }),
    Plot.ruleX(lambdaMin, { stroke: '#6b7280', strokeDasharray: '5,4', className: 'xl-lambda-min' }),
    Plot.text(lambdaMin, {
      x: (d: number) => d,
      text: (d: number) => `λ_min ${fmtUs(d)} µs`,
      frameAnchor: 'top',
      textAnchor: 'start',
      lineAnchor: 'top',
      // One line below the λ_max label, so the two never overlap when the window is narrow.
      dx: 4,
      dy: 20,
      fill: '#6b7280',
    }),
    Plot.ruleX([lane.boundUs], { stroke: '#111827', strokeWidth: 1.5, className: 'xl-lambda-max' }),
    Plot.text([lane.boundUs], {
      x: (d: number) => d,
      text: (d: number) => `λ_max ${fmtUs(d)} µs`,
      frameAnchor: 'top',
      textAnchor: 'start',
      lineAnchor: 'top',
      dx: 4,
      dy: 4,
      fill: '#111827',
      fontWeight: 'bold',
    }),
    Plot.line(points, { x: 'x', y: 'y', z: 'label', stroke: 'label', curve: 'step-after', strokeWidth: 1.6 }),
    Plot.dot(maxima, { x: 'x', y: 'y', stroke: 'label', fill: 'white', r: 3 }),
    // The legend sits bottom-left: a CCDF falls from top-left to bottom-right, so that corner is empty.
    ...lane.runs.map((r, i) =>
      Plot.text([r.label], {
        text: (d: string) => (r.detail.messages > 0 ? `━ ${d}` : `${d}: no messages`),
        frameAnchor: 'bottom-left',
        textAnchor: 'start',
        dx: 8,
        dy: -8 - (lane.runs.length - 1 - i) * 14,
        fill: modeColor(r.mode),
        fontWeight: 'bold',
      }),
    ),
  ];

  return plotSvg(
    doc,
    {
      width: 720,
      height: 380,
      marginLeft: 56,
      marginRight: 24,
      marginTop: 24,
      marginBottom: 40,
      style: { background: 'white' },
      x: { type: 'log', label: 'one-way latency (µs) →', grid: true, ...xDomain },
      y: {
        type: 'log',
        domain: [yMin, 1],
        ticks: decades,
        tickFormat: tailLabel,
        label: '↑ fraction of messages slower (1 − F)',
        grid: true,
      },
      color: { domain: labels, range: colors },
      marks,
    },
    idPrefix,
    title,
  );
}
