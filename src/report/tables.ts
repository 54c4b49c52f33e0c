// The report's tables as HTML. Every value from the record is escaped here (esc) or formatted to a
// number first; nothing from the file reaches the page raw.
import {
  esc,
  fmtCount,
  fmtDurationNs,
  fmtMbps,
  fmtPercent,
  fmtRate,
  fmtRatio,
  fmtUs,
  isFigure,
} from './format.js';
import type { LabelledRun } from './model.js';
import { modeColor } from './plot-dom.js';
import type { SavedRecord } from './schema.js';

type Cell = string | { html: string; cls?: string; rowspan?: number };

function td(cell: Cell, numeric: boolean): string {
  if (typeof cell === 'string') return `<td${numeric ? ' class="num"' : ''}>${cell}</td>`;
  const classes = [numeric ? 'num' : '', cell.cls ?? ''].filter(Boolean).join(' ');
  const cls = classes ? ` class="${classes}"` : '';
  const span = cell.rowspan && cell.rowspan > 1 ? ` rowspan="${cell.rowspan}"` : '';
  return `<td${cls}${span}>${cell.html}</td>`;
}

interface Column {
  head: string;
  numeric?: boolean;
}

/** `rows` hold already-escaped HTML; a row may be shorter than `columns` when rowspans cover it. */
function table(caption: string, columns: Column[], rows: Cell[][], rowClass?: (i: number) => string): string {
  const head = columns.map((c) => `<th${c.numeric ? ' class="num"' : ''}>${c.head}</th>`).join('');
  const body = rows
    .map((r, i) => {
      const offset = columns.length - r.length;
      const cells = r.map((c, j) => td(c, columns[j + offset]?.numeric === true)).join('');
      const cls = rowClass?.(i);
      return `<tr${cls ? ` class="${cls}"` : ''}>${cells}</tr>`;
    })
    .join('\n');
  return `<table>\n<caption>${caption}</caption>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

export function modeBadge(mode: string, label: string): string {
  return `<span class="mode" style="border-color:${modeColor(mode)};color:${modeColor(mode)}">${esc(label)}</span>`;
}

function laneId(l: { lane: string; name: string }): string {
  const id = l.name === l.lane ? esc(l.name) : `${esc(l.name)} <span class="dim">(${esc(l.lane)})</span>`;
  return `<span class="nowrap">${id}</span>`;
}

/** Green or red by `kept`; a missing figure (no messages) is neither, since nothing was measured. */
function judged(v: number | null, kept: (v: number) => boolean): string {
  if (!isFigure(v)) return '';
  return kept(v) ? 'ok' : 'miss';
}

/** The count, with the share of its contract's periods the sender used when the record has it. */
function messagesCell(messages: number, sendRate: number | null): Cell {
  const rate = isFigure(sendRate)
    ? ` <span class="dim nowrap">(${Math.round(sendRate * 100)}% of periods)</span>`
    : '';
  return { html: fmtCount(messages) + rate };
}

/** Per run and lane receiver: percentiles against the promise, with misses marked. */
export function summaryTable(runs: LabelledRun[]): string {
  const columns: Column[] = [
    { head: 'mode' },
    { head: 'bulk Mbit/s', numeric: true },
    { head: 'lane' },
    { head: 'p50 µs', numeric: true },
    { head: 'p99 µs', numeric: true },
    { head: 'p99.9 µs', numeric: true },
    { head: 'p99.99 µs', numeric: true },
    { head: 'max µs', numeric: true },
    { head: 'λ_max µs', numeric: true },
    { head: 'within bound', numeric: true },
    { head: 'tightness', numeric: true },
    { head: 'messages', numeric: true },
    { head: 'lost', numeric: true },
    { head: 'outliers', numeric: true },
  ];
  const rows: Cell[][] = [];
  const firstOfRun: boolean[] = [];
  for (const { label, run } of runs) {
    const lanes = run.lanes.length > 0 ? run.lanes : [undefined];
    lanes.forEach((l, i) => {
      const lead: Cell[] =
        i === 0
          ? [
              { html: modeBadge(run.mode, label), rowspan: lanes.length },
              { html: fmtMbps(run.bulkMbps), rowspan: lanes.length },
            ]
          : [];
      firstOfRun.push(i === 0);
      if (!l) {
        rows.push([...lead, { html: '<span class="dim">no lanes measured</span>' }]);
        return;
      }
      rows.push([
        ...lead,
        `${laneId(l)} <span class="dim nowrap">${esc(l.from)} → ${esc(l.to)}</span>`,
        fmtUs(l.p50Us),
        fmtUs(l.p99Us),
        fmtUs(l.p999Us),
        fmtUs(l.p9999Us ?? null),
        { html: fmtUs(l.maxUs), cls: judged(l.maxUs, (v) => v <= l.boundUs) },
        fmtUs(l.boundUs),
        // A lane that delivered nothing kept no promise: said in words, in red, not as a bare dash.
        l.messages > 0
          ? { html: fmtPercent(l.withinBound), cls: judged(l.withinBound, (v) => v >= 1) }
          : { html: 'no messages', cls: 'miss' },
        {
          html:
            fmtRatio(l.tightness) +
            (l.tightnessFloor != null
              ? ` <span class="dim nowrap">(floor ${fmtRatio(l.tightnessFloor)})</span>`
              : ''),
          cls: judged(l.tightness, (v) => v >= 1) === 'miss' ? 'miss' : '',
        },
        messagesCell(l.messages, l.sendRate ?? null),
        { html: fmtCount(l.lost), cls: l.lost > 0 ? 'miss' : '' },
        { html: fmtCount(l.outliers), cls: l.outliers > 0 ? 'miss' : '' },
      ]);
    });
  }
  return table('Latency per run and lane (one-way, µs)', columns, rows, (i) =>
    firstOfRun[i] ? 'run-start' : '',
  );
}

export function allocationLanesTable(record: SavedRecord): string {
  const columns: Column[] = [
    { head: 'lane' },
    { head: 'from → to' },
    { head: 'payload', numeric: true },
    { head: 'period', numeric: true },
    { head: 'phase', numeric: true },
    { head: 'λ_min µs', numeric: true },
    { head: 'λ_max µs', numeric: true },
    { head: 'path' },
  ];
  const rows: Cell[][] = record.allocation.lanes.map((l) => [
    laneId(l),
    `${esc(l.from)} → ${l.to.map(esc).join(', ')}`,
    `${fmtCount(l.payloadBytes)} B`,
    esc(fmtDurationNs(l.periodNs)),
    l.phaseNs !== undefined ? esc(fmtDurationNs(l.phaseNs)) : '–',
    fmtUs(l.lambdaMinUs),
    fmtUs(l.lambdaMaxUs),
    l.path.map(esc).join(' → '),
  ]);
  return table('Lanes granted by the controller', columns, rows);
}

export function allocationPortsTable(record: SavedRecord): string {
  const columns: Column[] = [
    { head: 'port' },
    { head: 'rate', numeric: true },
    { head: 'express share', numeric: true },
    { head: 'express load', numeric: true },
    { head: 'of share', numeric: true },
    { head: 'delay bound µs', numeric: true },
  ];
  const rows: Cell[][] = record.allocation.ports.map((p) => {
    const share = p.rateBps * p.expressShare;
    return [
      `${esc(p.from)} → ${esc(p.to)}`,
      esc(fmtRate(p.rateBps)),
      fmtPercent(p.expressShare),
      esc(fmtRate(p.expressLoadBps)),
      share > 0 ? fmtPercent(p.expressLoadBps / share) : '—',
      fmtUs(p.delayBoundUs),
    ];
  });
  return table('Egress ports on the lanes’ paths', columns, rows);
}

/** The host terms of every bound: declared in the topology or measured by the calibration. */
export function hostBoundsTable(record: SavedRecord): string {
  const rows = record.hostBounds ?? [];
  if (rows.length === 0) return '';
  const columns: Column[] = [
    { head: 'host' },
    { head: 'source' },
    { head: 'send µs', numeric: true },
    { head: 'receive µs', numeric: true },
    { head: 'observed max µs', numeric: true },
    { head: 'samples', numeric: true },
  ];
  const range = ([lo, hi]: [number, number]) => `${fmtUs(lo)} … ${fmtUs(hi)}`;
  return table(
    'Host send / receive bounds [min … max] the controller used',
    columns,
    rows.map((h) => [
      esc(h.host),
      esc(h.source),
      range(h.sendUs),
      range(h.recvUs),
      h.observedMaxUs === undefined ? '—' : fmtUs(h.observedMaxUs),
      h.samples === undefined ? '—' : fmtCount(h.samples),
    ]),
  );
}

export function runsTable(runs: LabelledRun[]): string {
  const columns: Column[] = [
    { head: 'mode' },
    { head: 'started' },
    { head: 'seconds', numeric: true },
    { head: 'bulk Mbit/s', numeric: true },
    { head: 'link Mbit/s', numeric: true },
    { head: 'CPU busy / stolen', numeric: true },
    { head: 'engine' },
  ];
  const rows: Cell[][] = runs.map(({ label, run }) => [
    { html: modeBadge(run.mode, label) },
    esc(run.startedAt),
    esc(String(run.seconds)),
    fmtMbps(run.bulkMbps),
    run.linkMbps !== undefined ? fmtMbps(run.linkMbps) : '—',
    run.cpuShare ? `${fmtPercent(run.cpuShare.busy)} / ${fmtPercent(run.cpuShare.steal)}` : '—',
    Object.entries(run.engine)
      .map(([k, v]) => `<code>${esc(k)}=${esc(String(v))}</code>`)
      .join(' '),
  ]);
  return table('Runs and how the engines ran', columns, rows);
}

const TARGET_LABELS: [keyof NonNullable<SavedRecord['targets']>, string][] = [
  ['expressP99AtMost1_5xIdle', 'express p99 ≤ 1.5 × idle p99, every lane'],
  ['fifoP99AtLeast10xExpress', 'fifo p99 ≥ 10 × express p99, every lane'],
  ['withinBoundAtLeast99_99', 'within bound ≥ 99.99 %, every lane, idle and express'],
  ['tightnessAtMost5', 'tightness (λ_max ÷ p99.9) ≤ 5, every lane, idle and express'],
  ['bulkWithin10PctOfLink', 'bulk within 10 % of the link rate, express and fifo'],
  ['atLeast100kMessagesPerLane', '≥ 100,000 messages per lane and mode'],
];

/** The bench's own verdict on each target (records from before it had one: nothing). */
export function targetsTable(record: SavedRecord): string {
  const t = record.targets;
  if (!t) return '';
  const rows: Cell[][] = TARGET_LABELS.map(([key, label]) => {
    const v = t[key];
    return [
      esc(label),
      v === null
        ? { html: 'not judged', cls: 'dim' }
        : { html: v ? 'met' : 'missed', cls: v ? 'ok' : 'miss' },
    ];
  });
  return table(
    'Targets (not judged: a mode the target compares did not run)',
    [{ head: 'target' }, { head: 'verdict' }],
    rows,
  );
}
