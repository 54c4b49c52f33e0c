// `xlane bench host`: added to the `bench` group by bench.ts.

import type { Command } from 'commander';
import { runHostBench } from '../../bench/host.js';
import { XlaneError } from '../../errors.js';
import { cpuNumber } from '../option-values.js';
import { plainTable } from '../plain-table.js';

function positive(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0)
      throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be > 0 (got "${v}")`);
    return n;
  };
}

export function registerHostBench(bench: Command): void {
  bench
    .command('host')
    .description(
      'Lane-core jitter (cyclictest) and 100 µs pacing error, before and after `tune apply` (then reverted).',
    )
    .option('--core <n>', 'lane core (default: the tune core choice)', (v: string) => cpuNumber('core', v))
    .option('--nic <if>', 'NIC the lanes use (default: the default-route interface)')
    .option('--seconds <s>', 'seconds per measurement (4 measurements in all)', positive('seconds'), 10)
    .option('--json', 'print one JSON object')
    .action(async (o: { core?: number; nic?: string; seconds: number; json?: boolean }) => {
      const r = await runHostBench({
        seconds: o.seconds,
        ...(o.core === undefined ? {} : { core: o.core }),
        ...(o.nic ? { nic: o.nic } : {}),
        log: (l) => console.error(l),
      });
      if (o.json) {
        console.log(JSON.stringify(r));
        return;
      }
      const t = plainTable({
        head: ['µs', 'p50 before', 'p50 after', 'p99 before', 'p99 after', 'max before', 'max after'],
      });
      for (const k of ['cyclictestUs', 'pacingErrUs'] as const)
        t.push([
          k,
          r.before[k].p50,
          r.after[k].p50,
          r.before[k].p99,
          r.after[k].p99,
          r.before[k].max,
          r.after[k].max,
        ]);
      console.log(t.toString());
      console.log(`applied: ${r.applied.join(', ') || 'nothing'}`);
    });
}
