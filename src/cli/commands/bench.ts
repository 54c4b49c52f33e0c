// `xlane bench …`: measurements live here, never in tests. Each bench prints one JSON object with
// --json (for scripts and reports) or a short table.

import type { Command } from 'commander';
import { runAllocBench } from '../../bench/alloc.js';
import { wholeNumber } from '../option-values.js';
import { plainTable } from '../plain-table.js';
import { registerEngineBench } from './bench-engine.js';
import { registerFdBench } from './bench-fd.js';
import { registerHostBench } from './bench-host.js';
import { registerInterferenceBench } from './bench-interference.js';

function positiveInt(name: string): (v: string) => number {
  return (v) => wholeNumber(name, v);
}

export function register(program: Command): void {
  const bench = program
    .command('bench')
    .description('Measure xlane components (results are printed, not asserted).');
  registerHostBench(bench);
  registerEngineBench(bench);
  registerInterferenceBench(bench);
  registerFdBench(bench);
  bench
    .command('alloc')
    .description('Allocator: admit latency into a loaded leaf-spine, full re-computation, invariant check.')
    .option('--hosts <n>', 'hosts in the leaf-spine fabric', positiveInt('hosts'), 1024)
    .option('--lanes <n>', 'lanes admitted before measuring', positiveInt('lanes'), 10000)
    .option('--samples <n>', 'timed admissions of one more lane', positiveInt('samples'), 200)
    .option('--seed <n>', 'PRNG seed of the workload', positiveInt('seed'), 1)
    .option('--json', 'print one JSON object')
    .action((o: { hosts: number; lanes: number; samples: number; seed: number; json?: boolean }) => {
      const r = runAllocBench(o);
      if (o.json) {
        console.log(JSON.stringify(r));
        return;
      }
      const t = plainTable({ head: ['metric', 'value'] });
      t.push(
        ['hosts', r.hosts],
        ['lanes admitted', r.lanes],
        ['rejected while loading', r.rejected],
        ['build (ms)', r.buildMs],
        ['admit one lane p50 (ms)', r.admitMs.p50],
        ['admit one lane p99 (ms)', r.admitMs.p99],
        ['full re-computation (ms)', r.recomputeMs],
        ['invariant violations', r.invariantViolations],
      );
      console.log(t.toString());
    });
}
