// `xlane bench engine --all`: the C floor, the native engine (busy-poll, blocking, poll), the js engine
// and plain dgram in ONE run: every engine gets its own peer pair in the same two namespaces, and
// their round-trip blocks are taken in turn, so the machine's load hits every row alike. The
// markdown rendering is pure, for the README.
import { XlaneError } from '../errors.js';
import {
  type BenchSubject,
  DEFAULT_RELEASE_JITTER_US,
  type EngineBenchOptions,
  type MachineInfo,
  measureEngines,
  nativeUnavailable,
  subjectName,
  validateEngineBenchOptions,
} from './engine.js';
import type { PacingFeed } from './engine-peer-protocol.js';
import type { LatencySummaryUs } from './engine-stats.js';

/** Round trips per engine with --all unless asked otherwise: five kinds in one bounded run. */
export const ALL_DEFAULT_ROUND_TRIPS = 50_000;

export interface EngineTableRow {
  name: string;
  rttUs: LatencySummaryUs;
  roundTrips: number;
  /** This row's RTT over the floor's, when the floor ran. */
  overFloor?: { p50: number; p999: number };
  /** Engines only: the 100 µs periodic lane. */
  pacingErrUs?: LatencySummaryUs;
  missedPeriods?: number;
  /** The same, only where the lane had a message waiting at the boundary (the engine's share). */
  enginePacingErrUs?: LatencySummaryUs;
  engineMissedPeriods?: number;
}

export interface EngineTableResult {
  rows: EngineTableRow[];
  /** Engines that could not run (e.g. native without its addon), with the reason. */
  skipped: { name: string; reason: string }[];
  roundTrips: number;
  pacingSeconds: number;
  pacingPeriodUs: number;
  /** E of the periodic lane (docs/protocol.md): errors are measured against its grid. */
  releaseJitterUs: number;
  /** The periodic lane's phase (µs), null: none. */
  phaseUs: number | null;
  pacingFeed: PacingFeed;
  truncated: boolean;
  cores: { a: number; b: number };
  machine: MachineInfo;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function overFloor(s: LatencySummaryUs, floor: LatencySummaryUs): { p50: number; p999: number } {
  const r = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? round3(a / b) : Number.NaN);
  return { p50: r(s.p50, floor.p50), p999: r(s.p999, floor.p999) };
}

export async function runEngineTable(
  o: Omit<EngineBenchOptions, 'engine' | 'receive'>,
): Promise<EngineTableResult> {
  validateEngineBenchOptions({ ...o, engine: 'js' });
  const subjects: BenchSubject[] = [];
  const skipped: EngineTableResult['skipped'] = [];
  const why = nativeUnavailable();
  if (why) {
    o.log?.(`warning: the native engine is not available (${why}): its rows are left out`);
    for (const mode of ['busy-poll', 'blocking', 'poll'])
      skipped.push({ name: `native ${mode}`, reason: why });
  } else {
    subjects.push(
      { engine: 'native', receive: 'busy-poll' },
      { engine: 'native', receive: 'blocking' },
      { engine: 'native', receive: 'poll' },
    );
  }
  subjects.push({ engine: 'js' });
  const m = await measureEngines(subjects, { ...o, floor: true });
  if (!m.floor) throw new XlaneError('XL_ERR_INTERNAL', 'the floor reference did not run');
  const floor = m.floor;
  const rows: EngineTableRow[] = [
    { name: 'C floor (busy-poll)', rttUs: floor.rttUs, roundTrips: floor.roundTrips },
    ...m.subjects.map((s) => ({
      name: subjectName(s.subject),
      rttUs: s.rttUs,
      roundTrips: s.roundTrips,
      overFloor: overFloor(s.rttUs, floor.rttUs),
      pacingErrUs: s.pacingErrUs,
      missedPeriods: s.missedPeriods,
      enginePacingErrUs: s.pacing.engineErrUs,
      engineMissedPeriods: s.pacing.engineMissedPeriods,
    })),
    {
      name: 'Node dgram',
      rttUs: m.dgram.rttUs,
      roundTrips: m.dgram.roundTrips,
      overFloor: overFloor(m.dgram.rttUs, floor.rttUs),
    },
  ];
  for (const r of rows.slice(1)) r.overFloor ??= overFloor(r.rttUs, floor.rttUs);
  return {
    rows,
    skipped,
    roundTrips: o.roundTrips,
    pacingSeconds: o.pacingSeconds,
    pacingPeriodUs: o.pacingPeriodUs ?? 100,
    releaseJitterUs: o.releaseJitterUs ?? DEFAULT_RELEASE_JITTER_US,
    // As the senders used it (every subject's pacing lane gets the same phase).
    phaseUs: m.subjects[0]?.pacing.phaseUs ?? null,
    pacingFeed: o.pacingFeed ?? 'heartbeat',
    truncated: m.truncated,
    cores: m.cores,
    machine: m.machine,
  };
}

const cell = (v: number | undefined) => (v === undefined ? '' : Number.isNaN(v) ? 'n/a' : String(v));

/** The table of all engines, in markdown (the README's). */
export function engineTableMarkdown(t: EngineTableResult): string {
  const lines = [
    '| 64 B round trip, veth + bridge (µs) | p50 | p99 | p99.9 | max | p50 × floor | p99.9 × floor | pacing error p99 / p99.9 (µs) | missed periods | engine-only pacing error p99 / p99.9 (µs) | engine-missed periods |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const pair = (s?: LatencySummaryUs) => (s ? `${cell(s.p99)} / ${cell(s.p999)}` : '');
  for (const r of t.rows) {
    lines.push(
      `| ${r.name} | ${cell(r.rttUs.p50)} | ${cell(r.rttUs.p99)} | ${cell(r.rttUs.p999)} | ${cell(r.rttUs.max)} | ` +
        `${cell(r.overFloor?.p50)} | ${cell(r.overFloor?.p999)} | ${pair(r.pacingErrUs)} | ${cell(r.missedPeriods)} | ` +
        `${pair(r.enginePacingErrUs)} | ${cell(r.engineMissedPeriods)} |`,
    );
  }
  for (const s of t.skipped) lines.push(`| ${s.name} | not run: ${s.reason} | | | | | | | | | |`);
  const load = t.machine.loadAvgBefore.join(' ');
  lines.push(
    '',
    `${t.roundTrips} round trips each${t.truncated ? ' (cut short by --max-seconds)' : ''}, blocks taken in turn; ` +
      `pacing: ${t.pacingPeriodUs} µs lane (release jitter ${t.releaseJitterUs} µs, grant phase ${t.phaseUs === null ? 'none' : `${t.phaseUs} µs`}) for ${t.pacingSeconds} s per engine, ` +
      `${t.pacingFeed === 'refill' ? 'kept backlogged by the application' : "frames from the engine's heartbeat clock"}. ` +
      `${t.machine.cpus} CPUs, load average ${load}; ` +
      `native peers and the floor pinned to CPUs ${t.cores.a} (A) and ${t.cores.b} (B).`,
  );
  return lines.join('\n');
}
