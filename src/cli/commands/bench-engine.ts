// `xlane bench engine`: added to the `bench` group by bench.ts (registerEngineBench).

import type { Command } from 'commander';
import { DEFAULT_RELEASE_JITTER_US, type EngineBenchResult, runEngineBench } from '../../bench/engine.js';
import type { BenchEngineKind, NativeReceiveMode, PacingFeed } from '../../bench/engine-peer-protocol.js';
import type { LatencySummaryUs } from '../../bench/engine-stats.js';
import { ALL_DEFAULT_ROUND_TRIPS, engineTableMarkdown, runEngineTable } from '../../bench/engine-table.js';
import { parseSpinSetting, type SpinSetting } from '../../engine/spin-setting.js';
import { XlaneError } from '../../errors.js';
import { cpuNumber, num, oneOf } from '../option-values.js';
import { plainTable } from '../plain-table.js';

function positive(name: string, integer: boolean): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `--${name} must be ${integer ? 'a whole number ' : ''}> 0 (got "${v}")`,
      );
    return n;
  };
}

function cpu(name: string): (v: string) => number {
  return (v) => cpuNumber(name, v);
}

/** 'none' stays a string: commander turns a parser's null into ''. */
export function phaseValue(v: string): number | 'none' {
  return v === 'none' ? 'none' : nonNegative('phase')(v);
}

function nonNegative(name: string): (v: string) => number {
  return (v) => {
    const n = num(name, v);
    if (n < 0) throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be ≥ 0 (got "${v}")`);
    return n;
  };
}

const engineKind = (v: string) => oneOf<BenchEngineKind>('engine', v, ['js', 'native']);
const receiveMode = (v: string) => oneOf<NativeReceiveMode>('receive', v, ['busy-poll', 'blocking', 'poll']);
const pacingFeed = (v: string) => oneOf<PacingFeed>('feed', v, ['heartbeat', 'refill']);

const row = (name: string, s: LatencySummaryUs) => [name, s.p50, s.p99, s.p999, s.max];

interface EngineCliOptions {
  engine: BenchEngineKind;
  receive?: NativeReceiveMode;
  coreA?: number;
  coreB?: number;
  fifo?: number;
  spinUs?: SpinSetting;
  maxSpinUs?: number;
  backup?: boolean;
  all?: boolean;
  roundTrips?: number;
  maxSeconds: number;
  pacingSeconds: number;
  feed: PacingFeed;
  releaseJitter: number;
  phase: number | 'none';
  json?: boolean;
}

function printResult(r: EngineBenchResult): void {
  const t = plainTable({ head: ['µs', 'p50', 'p99', 'p99.9', 'max'] });
  const name = r.mode ? `${r.engine} ${r.mode}` : r.engine;
  t.push(
    row(`${name} RTT`, r.rttUs),
    row('dgram RTT', r.dgramRttUs),
    ...(r.floorRttUs ? [row('C floor RTT', r.floorRttUs)] : []),
    row(`pacing error (${r.pacing.periodUs} µs)`, r.pacingErrUs),
    row('  of it the engine’s (lane backlogged)', r.pacing.engineErrUs),
  );
  console.log(t.toString());
  const ratios = r.floorRttUs
    ? `${r.engine}/floor p50 ${r.ratios.p50}×, p99.9 ${r.ratios.p999}×; dgram/${r.engine} p50 ${r.ratios.dgramOverNativeP50}×`
    : `${r.engine}/dgram p50 ${r.ratios.p50}×, p99.9 ${r.ratios.p999}×`;
  console.log(
    `round trips: ${r.roundTrips} ${r.engine}, ${r.dgramRoundTrips} dgram` +
      `${r.floorRoundTrips !== undefined ? `, ${r.floorRoundTrips} floor` : ''}` +
      `${r.truncated ? ' (cut short by --max-seconds)' : ''}; ${ratios}`,
  );
  console.log(
    `pacing (${r.pacing.feed} feed, release jitter ${r.pacing.releaseJitterUs} µs, ` +
      `phase ${r.pacing.phaseUs === null ? 'none' : `${r.pacing.phaseUs} µs`}): ` +
      `${r.pacing.frames} frames, ${r.missedPeriods} missed periods (${r.pacing.engineMissedPeriods} the engine's, ` +
      `${r.pacing.appLateFrames} frames refilled late by the application), ${r.pacing.lostFrames} lost; ` +
      `load average ${r.machine.loadAvgBefore.join(' ')} on ${r.machine.cpus} CPUs` +
      `${r.cores ? `; pinned to CPUs ${r.cores.a} (A) and ${r.cores.b} (B)` : ''}`,
  );
}

export function registerEngineBench(bench: Command): void {
  bench
    .command('engine')
    .description(
      'Lane engine between two network namespaces (root): 64-byte round trips next to plain Node dgram ' +
        '(and, for native, the C busy-poll floor), and the pacing error of a 100 µs periodic lane.',
    )
    .option(
      '--engine <kind>',
      'js or native (native falls back to js with a warning without its addon)',
      engineKind,
      'js',
    )
    .option(
      '--receive <mode>',
      "native engine receive: busy-poll, blocking, or poll (the application's thread polls)",
      receiveMode,
    )
    .option('--core-a <n>', 'CPU of peer A (native engine, floor client; default 0)', cpu('core-a'))
    .option('--core-b <n>', 'CPU of peer B (native engine, floor server; default 1)', cpu('core-b'))
    .option(
      '--fifo <prio>',
      'engine threads (native) or pacing worker (js) SCHED_FIFO at this priority (1..99)',
      positive('fifo', true),
    )
    .option(
      '--spin-us <us>',
      'engine threads (native) or pacing worker (js): sleep until this long before a boundary, then ' +
        "spin (µs), or auto (the engines' default): learned from how late their timed sleeps end",
      parseSpinSetting,
    )
    .option(
      '--max-spin-us <us>',
      'with --spin-us auto: the most the learned margin may be (default 100)',
      nonNegative('max-spin-us'),
    )
    .option(
      '--backup',
      "native: a backup clock on peer B's CPU releases the periodic frames the sender's engine thread is more than 50 µs late for",
    )
    .option(
      '--all',
      `floor, native busy-poll, native blocking, js and dgram in one run; prints the markdown table ` +
        `(default ${ALL_DEFAULT_ROUND_TRIPS} round trips each)`,
    )
    .option(
      '--round-trips <n>',
      'round trips of each kind (default 200000; --all: 50000)',
      positive('round-trips', true),
    )
    .option('--max-seconds <s>', 'time bound of the round-trip phase', positive('max-seconds', false), 300)
    .option(
      '--pacing-seconds <s>',
      'length of the periodic-lane run (per engine)',
      positive('pacing-seconds', false),
      10,
    )
    .option(
      '--feed <mode>',
      "periodic lane's frames: heartbeat (the engine's own clock emits one per period) or refill " +
        '(the application keeps a coalescing lane backlogged)',
      pacingFeed,
      'heartbeat',
    )
    .option(
      '--release-jitter <us>',
      'E of the periodic lane: a frame at most this late keeps its grid of boundaries (0: each ' +
        'boundary counts from the previous release)',
      nonNegative('release-jitter'),
      DEFAULT_RELEASE_JITTER_US,
    )
    .option(
      '--phase <us>',
      "phase of the periodic lane's grant (CLOCK_REALTIME, µs), turned into the engine's phase as " +
        "an agent does; 'none': no phase, the grid stays where the frames put it",
      phaseValue,
      0,
    )
    .option('--json', 'print one JSON object')
    .action(async (o: EngineCliOptions) => {
      const log = (l: string) => console.error(l);
      const common = {
        maxSeconds: o.maxSeconds,
        pacingSeconds: o.pacingSeconds,
        pacingFeed: o.feed,
        releaseJitterUs: o.releaseJitter,
        phaseUs: o.phase === 'none' ? null : o.phase,
        ...(o.coreA !== undefined ? { coreA: o.coreA } : {}),
        ...(o.coreB !== undefined ? { coreB: o.coreB } : {}),
        ...(o.fifo !== undefined ? { fifoPriority: o.fifo } : {}),
        ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
        ...(o.maxSpinUs !== undefined ? { maxSpinUs: o.maxSpinUs } : {}),
        ...(o.backup ? { backup: true } : {}),
        log,
      };
      if (o.all) {
        const t = await runEngineTable({ ...common, roundTrips: o.roundTrips ?? ALL_DEFAULT_ROUND_TRIPS });
        console.log(o.json ? JSON.stringify(t) : engineTableMarkdown(t));
        return;
      }
      const r = await runEngineBench({
        ...common,
        engine: o.engine,
        ...(o.receive ? { receive: o.receive } : {}),
        roundTrips: o.roundTrips ?? 200_000,
      });
      if (o.json) console.log(JSON.stringify(r));
      else printResult(r);
    });
}
