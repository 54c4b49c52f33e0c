// `xlane bench fd`: added to the `bench` group by bench.ts. Thin: options → library → one progress
// line per injection on stderr, a table or JSON on stdout.

import type { Command } from 'commander';
import { defaultFdBenchOptions, runFdBench } from '../../bench/fd.js';
import type { FdBenchOutput } from '../../bench/fd-types.js';
import { loadNativeAddon } from '../../engine/native/addon.js';
import { parseDuration } from '../../util/units.js';
import { num, oneOf } from '../option-values.js';
import { plainTable } from '../plain-table.js';

interface FdCli {
  topology: string;
  runsDir: string;
  members: string;
  period: string;
  minutes: string;
  injections: string;
  engine?: string;
  receive: string;
  fifo?: string;
  spinUs?: string;
  backup?: boolean;
  bulk: string;
  streams: string;
  hostBounds: string;
  calibrate: string;
  baselines: boolean;
  phiThreshold: string;
  phiPause: string;
  phiMinStd: string;
  warmup: string;
  seed: string;
  short?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** `--short`: a quick check of the whole pipeline (tests, smoke runs), not a measurement. */
const SHORT = { minutes: 0.25, injections: 3 };
const pct = (x: number | null) => (x === null ? '–' : `${Math.round(x * 1000) / 10} %`);

export function registerFdBench(bench: Command): void {
  const d = defaultFdBenchOptions();
  bench
    .command('fd')
    .description(
      'X-FD on the namespace testbed (root): crash injections under bulk cross traffic; φ-accrual and a fixed timeout over plain dgram on the same run.',
    )
    .option('--topology <file>', 'topology YAML', d.topologyFile)
    .option('--runs-dir <dir>', 'folder of run folders', d.runsDir)
    .option('--members <list>', 'the group (every member heartbeats every other)', d.members.join(','))
    .option('--period <d>', 'heartbeat period (e.g. 100us)', `${d.periodNs / 1000}us`)
    .option('--minutes <n>', 'observation time with cross traffic (at least)', String(d.minutes))
    .option('--injections <n>', 'crashes injected (SIGKILL, then restart)', String(d.injections))
    .option('--engine <kind>', 'js or native (default: native when the addon is built, else js)')
    .option('--receive <mode>', 'native engine receive: blocking or busy-poll', d.receive)
    .option(
      '--fifo <prio>',
      'native engine thread at SCHED_FIFO priority (1..98; 99 is the crash injector’s)',
    )
    .option(
      '--spin-us <n>',
      'engine: spin this long before a boundary or deadline (default: learned from the wake-ups, at most 30)',
    )
    .option(
      '--backup',
      'native engine: each member pinned to a CPU, with a backup clock on the next one that sends the heartbeats its engine thread misses',
    )
    .option('--bulk <mode>', 'ring (a bulk TCP flow from every member to the next) or none', d.bulk)
    .option('--streams <n>', 'TCP streams per bulk flow', String(d.bulkStreams))
    .option(
      '--host-bounds <how>',
      'declared (topology, as `xlane agent`) or measure (calibrate first)',
      d.hostBounds,
    )
    .option(
      '--calibrate <s>',
      'calibration time per host with --host-bounds measure',
      String(d.calibrateSeconds),
    )
    .option('--no-baselines', 'X-FD alone: no φ-accrual tap, no plain-dgram heartbeats (their CPU cost)')
    .option('--phi-threshold <φ>', 'φ-accrual threshold', String(d.phiThreshold))
    .option('--phi-pause <d>', "φ-accrual's acceptable heartbeat pause", `${d.phiPauseNs / 1000}us`)
    .option('--phi-min-std <d>', "φ-accrual's standard-deviation floor", `${d.phiMinStdNs / 1000}us`)
    .option(
      '--warmup <s>',
      'seconds of heartbeats and cross traffic before observing',
      String(d.warmupSeconds),
    )
    .option('--seed <n>', 'PRNG seed of the crash moments', String(d.seed))
    .option('--short', `quick pipeline check: ${SHORT.minutes} min, ${SHORT.injections} injections`)
    .option('--json', 'print one JSON object')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (o: FdCli) => {
      const native = loadNativeAddon();
      const asked = o.engine === undefined ? undefined : oneOf('engine', o.engine, ['js', 'native'] as const);
      const engine = asked === 'js' || !native.ok ? 'js' : 'native';
      const fallback =
        asked !== 'js' && !native.ok
          ? `native engine unavailable (${native.reason}): ran the js engine`
          : undefined;
      if (fallback && !o.quiet) console.error(`[fd] ${fallback}`);
      const r = await runFdBench({
        topologyFile: o.topology,
        runsDir: o.runsDir,
        members: o.members.split(',').map((s) => s.trim()),
        periodNs: parseDuration(o.period),
        minutes: o.short ? SHORT.minutes : num('minutes', o.minutes),
        injections: o.short ? SHORT.injections : num('injections', o.injections),
        engine,
        ...(fallback ? { engineFallback: fallback } : {}),
        receive: oneOf('receive', o.receive, ['blocking', 'busy-poll'] as const),
        ...(o.fifo !== undefined ? { fifoPriority: num('fifo', o.fifo) } : {}),
        ...(o.spinUs !== undefined ? { spinUs: num('spin-us', o.spinUs) } : {}),
        ...(o.backup ? { backup: true } : {}),
        bulk: oneOf('bulk', o.bulk, ['ring', 'none'] as const),
        bulkStreams: num('streams', o.streams),
        hostBounds: oneOf('host-bounds', o.hostBounds, ['declared', 'measure'] as const),
        calibrateSeconds: num('calibrate', o.calibrate),
        baselines: o.baselines,
        phiThreshold: num('phi-threshold', o.phiThreshold),
        phiPauseNs: parseDuration(o.phiPause),
        phiMinStdNs: parseDuration(o.phiMinStd),
        warmupSeconds: num('warmup', o.warmup),
        seed: num('seed', o.seed),
        command: `xlane ${process.argv.slice(2).join(' ')}`,
        ...(o.quiet ? {} : { onProgress: (line: string) => console.error(`[fd] ${line}`) }),
      });
      if (o.json) return console.log(JSON.stringify(r.output));
      console.log(fdTable(r.output));
      console.log(`run folder: ${r.runDir}`);
    });
}

export function fdTable(out: FdBenchOutput): string {
  const t = plainTable({
    head: ['detector', 'detection p50 (µs)', 'p99', 'max', 'false positives', 'missed'],
  });
  const row = (name: string, s: Pick<FdBenchOutput, 'detectionUs' | 'falsePositives' | 'missed'>) => [
    name,
    s.detectionUs.p50,
    s.detectionUs.p99,
    s.detectionUs.max,
    s.falsePositives,
    s.missed,
  ];
  t.push(
    row(`X-FD (TO ${out.timeoutUs} µs, ${out.engine})`, out),
    row(`φ-accrual (φ ≥ ${out.phiAccrual.threshold})`, out.phiAccrual),
    row(`fixed timeout ${out.fixedTimeout.timeoutUs} µs, Node dgram`, out.fixedTimeout),
  );
  return [
    t.toString(),
    `${out.injections} crashes over ${out.observedMinutes} min, heartbeat ${out.heartbeatUs} µs, ` +
      `bulk ${out.bulkMbps} Mbit/s per flow (coverage ${out.bulkCoverage}); X-FD slack after TO p50 ` +
      `${out.slackUs.p50} / p99 ${out.slackUs.p99} / max ${out.slackUs.max} µs; load ${out.loadAvg1.before} → ${out.loadAvg1.after}, ` +
      `CPU busy ${Math.round(out.cpuShare.busy * 100)} %, stolen ${Math.round(out.cpuShare.steal * 1000) / 10} %` +
      (out.heartbeatShare.engine === null
        ? ''
        : `; heartbeats arrived: ${pct(out.heartbeatShare.engine)} on the lanes, ${pct(out.heartbeatShare.dgram)} over dgram`),
  ].join('\n');
}
