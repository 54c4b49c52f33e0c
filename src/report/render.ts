// record → one self-contained HTML page plus one SVG per figure. Pure: no files, no clock.
import { labelRuns, lanesAcrossRuns, laneTitle, uniqueSlug } from './model.js';
import { pageHtml } from './page.js';
import { ccdfSvg } from './plot-ccdf.js';
import { createPlotDocument } from './plot-dom.js';
import { seriesSvg } from './plot-series.js';
import type { SavedRecord } from './schema.js';

export interface ReportFigure {
  kind: 'ccdf' | 'series';
  /** File name (no folder), e.g. `ccdf-l1-h3.svg`: a slug, never a name taken raw from the record. */
  file: string;
  /** Plain text; escaped where it is written. */
  title: string;
  caption: string;
  svg: string;
}

export interface RenderedReport {
  html: string;
  figures: ReportFigure[];
}

export function renderReport(record: SavedRecord): RenderedReport {
  const doc = createPlotDocument();
  const runs = labelRuns(record);
  const used = new Set<string>();
  const figures: ReportFigure[] = [];
  for (const lane of lanesAcrossRuns(runs)) {
    const slug = uniqueSlug(`ccdf-${lane.lane}-${lane.to}`, used);
    const title = `Latency distribution: ${laneTitle(lane)}`;
    figures.push({
      kind: 'ccdf',
      file: `${slug}.svg`,
      title,
      caption:
        'Fraction of messages slower than x (1 − F), log–log, one curve per run; ○ marks the slowest ' +
        'message. Solid rule: λ_max, dashed: λ_min. Inside the promise, a curve reaches the bottom left of λ_max.',
      svg: ccdfSvg(doc, lane, title, `${slug}-`),
    });
  }
  for (const { label, run } of runs) {
    const slug = uniqueSlug(`series-${label}`, used);
    const title = `Over time: ${label} run`;
    figures.push({
      kind: 'series',
      file: `${slug}.svg`,
      title,
      caption:
        'Per window: p50, p99 and max latency per lane (log scale) with λ_max as a rule and the first ' +
        'outliers as dots; below, the bulk goodput on the same time axis.',
      svg: seriesSvg(doc, run, title, `${slug}-`),
    });
  }
  return { html: pageHtml(record, runs, figures), figures };
}
