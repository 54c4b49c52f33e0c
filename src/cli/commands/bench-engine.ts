// `xlane bench engine`: added to the `bench` group by bench.ts (registerEngineBench).
import Table from 'cli-table3';
import type { Command } from 'commander';
import { runEngineBench } from '../../bench/engine.js';
import type { BenchEngineKind } from '../../bench/engine-peer-protocol.js';
import type { LatencySummaryUs } from '../../bench/engine-stats.js';
import { XlaneError } from '../../errors.js';

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

function engineKind(v: string): BenchEngineKind {
  if (v === 'js' || v === 'native') return v;
  throw new XlaneError('XL_ERR_VALIDATION', `--engine must be js or native (got "${v}")`);
}

const row = (name: string, s: LatencySummaryUs) => [name, s.p50, s.p99, s.p999, s.max];

export function registerEngineBench(bench: Command): void {
  bench
    .command('engine')
    .description(
      'Lane engine between two network namespaces (root): 64-byte round trips next to plain Node dgram, ' +
        'and the pacing error of a 100 µs periodic lane.',
    )
    .option(
      '--engine <kind>',
      'js or native (native falls back to js with a warning for now)',
      engineKind,
      'js',
    )
    .option('--round-trips <n>', 'round trips of each kind', positive('round-trips', true), 50_000)
    .option('--max-seconds <s>', 'time bound of the round-trip phase', positive('max-seconds', false), 120)
    .option('--pacing-seconds <s>', 'length of the periodic-lane run', positive('pacing-seconds', false), 10)
    .option('--json', 'print one JSON object')
    .action(
      async (o: {
        engine: BenchEngineKind;
        roundTrips: number;
        maxSeconds: number;
        pacingSeconds: number;
        json?: boolean;
      }) => {
        const r = await runEngineBench({ ...o, log: (l) => console.error(l) });
        if (o.json) {
          console.log(JSON.stringify(r));
          return;
        }
        const t = new Table({ head: ['µs', 'p50', 'p99', 'p99.9', 'max'] });
        t.push(
          row(`${r.engine} RTT`, r.rttUs),
          row('dgram RTT', r.dgramRttUs),
          ...(r.floorRttUs ? [row('C floor RTT', r.floorRttUs)] : []),
          row(`pacing error (${r.pacing.periodUs} µs)`, r.pacingErrUs),
        );
        console.log(t.toString());
        console.log(
          `round trips: ${r.roundTrips} ${r.engine}, ${r.dgramRoundTrips} dgram${r.truncated ? ' (cut short by --max-seconds)' : ''}; ` +
            `${r.engine}/dgram p50 ${r.ratios.p50}×, p99.9 ${r.ratios.p999}×`,
        );
        console.log(
          `pacing: ${r.pacing.frames} frames, ${r.missedPeriods} missed periods, ${r.pacing.lostFrames} lost; ` +
            `load average ${r.machine.loadAvgBefore.join(' ')} on ${r.machine.cpus} CPUs`,
        );
      },
    );
}
