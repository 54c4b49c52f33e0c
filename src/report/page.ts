// The HTML page around figures and tables: one file, inline CSS, inline SVG, no script, no external
// URL, so it opens the same from a run folder, an e-mail attachment or a CI artifact.
import { esc } from './format.js';
import type { LabelledRun } from './model.js';
import type { ReportFigure } from './render.js';
import type { SavedRecord } from './schema.js';
import {
  allocationLanesTable,
  allocationPortsTable,
  hostBoundsTable,
  runsTable,
  summaryTable,
  targetsTable,
} from './tables.js';

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; margin: 2rem auto;
  max-width: 1100px; padding: 0 1rem; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #e5e7eb; padding-bottom: .2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 1rem 0; }
dl.meta dt { color: #6b7280; }
dl.meta dd { margin: 0; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .9em; }
pre { background: #f3f4f6; padding: .5rem .75rem; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border-bottom: 1px solid #e5e7eb; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
.num { text-align: right; }
tr.run-start td { border-top: 2px solid #9ca3af; }
td.ok { color: #15803d; }
td.miss { color: #b91c1c; font-weight: 600; }
.dim { color: #6b7280; }
.nowrap { white-space: nowrap; }
.mode { border: 1.5px solid; border-radius: 4px; padding: 0 .35rem; font-weight: 600; }
figure { margin: 1.5rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #374151; margin-bottom: .4rem; }
figcaption .file { color: #6b7280; font-size: .85em; }
ul.notes li { margin: .2rem 0; }
`;

function figureHtml(f: ReportFigure): string {
  return `<figure id="${esc(f.file.replace(/\.svg$/, ''))}">
<figcaption><strong>${esc(f.title)}</strong> — ${esc(f.caption)} <span class="file">(${esc(f.file)})</span></figcaption>
${f.svg}
</figure>`;
}

function meta(record: SavedRecord): string {
  const m = record.machine;
  const rows: [string, string][] = [
    ['created', esc(record.createdAt)],
    ['topology', `<code>${esc(record.topology)}</code>`],
    ['machine', `${esc(m.cpus)} CPUs, load average ${esc(m.loadAvg1.toFixed(2))}, kernel ${esc(m.kernel)}`],
    ['runs', esc(record.runs.map((r) => `${r.mode} (${r.seconds} s)`).join(', ') || 'none')],
  ];
  return `<dl class="meta">${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
<pre>${esc(record.command)}</pre>`;
}

export function pageHtml(record: SavedRecord, runs: LabelledRun[], figures: ReportFigure[]): string {
  const ccdf = figures.filter((f) => f.kind === 'ccdf').map(figureHtml);
  const series = figures.filter((f) => f.kind === 'series').map(figureHtml);
  const notes = record.notes.length
    ? `<ul class="notes">${record.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`
    : '<p class="dim">none</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xlane interference report — ${esc(record.topology)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>xlane interference report</h1>
<p>Express lanes against bulk cross traffic: each lane’s one-way latency when the network is idle
(<em>idle</em>), under bulk load with lanes in the strict-priority class (<em>express</em>), and under
the same load sharing one FIFO queue (<em>fifo</em>), against the window [λ_min, λ_max] the controller
promised. Green: inside the promise; red: a miss.</p>
${meta(record)}
<h2>Summary</h2>
${summaryTable(runs)}
<p class="dim">within bound: share of delivered messages with λ_min ≤ latency ≤ λ_max (rounded down; 100% only
when none missed). tightness: λ_max ÷ p99.9 (below 1× the promise was broken at p99.9); its floor, p99.99 ÷ p99.9, is the
tightness of the tightest λ_max that would still have kept 99.99% of that run’s messages within. no messages: the
lane received nothing in that run, so it has no latency figures (—) and no curve.</p>
${targetsTable(record)}
<h2>Latency distributions</h2>
${ccdf.join('\n') || '<p class="dim">no lanes measured</p>'}
<h2>Latency and bulk traffic over time</h2>
${series.join('\n') || '<p class="dim">no runs</p>'}
<h2>Allocation</h2>
${allocationLanesTable(record)}
${allocationPortsTable(record)}
${hostBoundsTable(record)}
<h2>Runs</h2>
${runsTable(runs)}
<h2>Notes</h2>
${notes}
</body>
</html>
`;
}
