// The live terminal view of an interference run (bench and demo): a progress bar per mode with
// each lane's rolling p50 / p99 against its bound, redrawn in place on a terminal (cli-progress),
// one line per phase change otherwise (logs, CI).
import cliProgress from 'cli-progress';
import type { InterferenceProgress } from '../bench/interference.js';
import type { InterferenceTargets } from '../bench/interference-targets.js';
import { plainTable } from './plain-table.js';

/** A lane without messages has NaN figures in memory, null once read back from JSON: both print –. */
const fmt = (v: number | null) =>
  v !== null && Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–';

function lanesText(p: InterferenceProgress): string {
  return p.lanes
    .map((l) => {
      const mark = l.p99Us > l.boundUs ? '!' : ' ';
      return `${l.name} p50 ${fmt(l.p50Us)} p99 ${fmt(l.p99Us)}${mark}/${fmt(l.boundUs)} µs`;
    })
    .join(' │ ');
}

export class InterferenceView {
  private bar: cliProgress.SingleBar | undefined;
  private lastPhase = '';
  /** Set by stop(): a progress call that comes late (a run that failed and is still winding down)
   * must not start a new bar or print under what the command prints next. */
  private stopped = false;
  private readonly tty: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(out.isTTY);
  }

  update = (p: InterferenceProgress): void => {
    if (this.stopped) return;
    const key = `${p.mode}/${p.phase}`;
    if (key !== this.lastPhase) {
      this.lastPhase = key;
      if (p.phase === 'recording' && this.tty) {
        this.bar = new cliProgress.SingleBar(
          {
            stream: this.out,
            format: `${p.mode.padEnd(7)} {bar} {value}/{total} s │ {lanes}`,
            barsize: 20,
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(Math.round(p.totalSec), 0, { lanes: '' });
      } else if (p.phase !== 'recording') {
        this.bar?.stop();
        this.bar = undefined;
        if (!this.tty || p.phase !== 'done') this.out.write(`${p.mode}: ${p.phase}\n`);
      }
    }
    if (p.phase === 'recording') {
      // The expected length grows when the lanes are slow to reach their message count.
      const total = Math.round(p.totalSec);
      if (this.bar) {
        this.bar.setTotal(total);
        this.bar.update(Math.min(total, Math.round(p.elapsedSec)), { lanes: lanesText(p) });
      } else if (Math.round(p.elapsedSec * 2) % 4 === 0)
        this.out.write(`${p.mode} ${p.elapsedSec.toFixed(0)}/${total} s: ${lanesText(p)}\n`);
    }
  };

  /** Idempotent: commands call it on success and again in `finally`. */
  stop(): void {
    this.stopped = true;
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** What the table reads of a lane: InterferenceOutput's summaries, or the same read back from JSON. */
interface TableLane {
  lane: string;
  name: string;
  boundUs: number;
  p50Us: number | null;
  p99Us: number | null;
  p999Us: number | null;
  p9999Us?: number | null;
  maxUs: number | null;
  withinBound: number | null;
  tightness?: number | null;
  tightnessFloor?: number | null;
  messages: number;
  lost: number;
  sendRate?: number | null;
}

export interface TableInput {
  runs: { mode: string; bulkMbps: number; lanes: TableLane[] }[];
  /** The bench's verdicts (interference-targets.ts); null: not judged. */
  targets?: { readonly [K in keyof InterferenceTargets]?: boolean | null };
}

function withinText(l: TableLane): string {
  if (!(l.messages > 0)) return 'no messages';
  return l.withinBound !== null && Number.isFinite(l.withinBound)
    ? `${(l.withinBound * 100).toFixed(3)}%`
    : '–';
}

/** The count, and the share of the contract's periods the sender used when it is known. */
function messagesText(l: TableLane): string {
  const r = l.sendRate;
  return r != null && Number.isFinite(r) ? `${l.messages} (${Math.round(r * 100)}%)` : String(l.messages);
}

function tightnessText(l: TableLane): string {
  const r = (v: number | null | undefined) => (v != null && Number.isFinite(v) ? v.toFixed(2) : '–');
  const floor = l.tightnessFloor;
  return floor != null && Number.isFinite(floor) ? `${r(l.tightness)} (${r(floor)})` : r(l.tightness);
}

export function interferenceTable(out: TableInput): string {
  const t = plainTable({
    head: [
      'mode',
      'bulk Mbit/s',
      'lane',
      'bound µs',
      'p50',
      'p99',
      'p99.9',
      'p99.99',
      'max',
      'within',
      'tightness (floor)',
      'messages (rate)',
      'lost',
    ],
    // One line per lane and mode, no rule between them: six rows read as one block.
    style: { compact: true },
  });
  for (const r of out.runs) {
    for (const l of r.lanes) {
      t.push([
        r.mode,
        r.bulkMbps.toFixed(0),
        `${l.name} (${l.lane})`,
        fmt(l.boundUs),
        fmt(l.p50Us),
        fmt(l.p99Us),
        fmt(l.p999Us),
        fmt(l.p9999Us ?? null),
        fmt(l.maxUs),
        withinText(l),
        tightnessText(l),
        messagesText(l),
        l.lost,
      ]);
    }
  }
  if (!out.targets) return t.toString();
  const verdict = (v: boolean | null) => (v === null ? 'not judged' : v ? 'met' : 'MISSED');
  const lines = Object.entries(out.targets).map(([k, v]) => `  ${k}: ${verdict(v ?? null)}`);
  return `${t.toString()}\ntargets:\n${lines.join('\n')}`;
}
