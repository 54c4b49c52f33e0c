// `xlane bench interference`: added to the `bench` group by bench.ts. Thin: options → library →
// live view on stderr, table or JSON on stdout.
import type { Command } from 'commander';
import { parseBoundsPolicy } from '../../agent/host-bounds/options.js';
import { defaultInterferenceOptions, runInterference } from '../../bench/interference.js';
import type { InterferenceMode } from '../../bench/interference-types.js';
import { parseDuration } from '../../util/units.js';
import { InterferenceView, interferenceTable } from '../interference-view.js';
import { num, oneOf } from '../option-values.js';

interface InterferenceCli {
  topology: string;
  runsDir: string;
  modes: string;
  seconds: string;
  minMessages: string;
  maxSeconds?: string;
  period: string;
  payload: string;
  senders: string;
  receiver: string;
  engine: string;
  receive: string;
  fifo?: string;
  backup: boolean;
  backupReadUs: string;
  maxSpinUs: string;
  appFifo: string;
  feed: string;
  streams: string;
  bulkCpu?: string;
  htbBurst?: string;
  hostBounds: string;
  calibrate: string;
  boundsQuantile?: string;
  boundsFactor?: string;
  boundsSendShare?: string;
  boundsMinFactor?: string;
  boundsKeepMax?: boolean;
  json?: boolean;
}

export function registerInterferenceBench(bench: Command): void {
  const d = defaultInterferenceOptions();
  bench
    .command('interference')
    .description(
      'Express lanes under bulk cross traffic on the namespace testbed (root): idle, express, fifo.',
    )
    .option('--topology <file>', 'topology YAML', d.topologyFile)
    .option('--runs-dir <dir>', 'folder of run folders', d.runsDir)
    .option('--modes <list>', 'comma-separated: idle,express,fifo', d.modes.join(','))
    .option('--seconds <s>', 'recording time per mode, at least', String(d.seconds))
    .option(
      '--min-messages <n>',
      'then record on until every lane has this many messages (0: stop at --seconds)',
      String(d.minMessages),
    )
    .option(
      '--max-seconds <s>',
      `the longest a mode records, messages or not (default: ${d.maxSeconds}, or --seconds if longer)`,
    )
    .option('--period <d>', "lanes' period (e.g. 100us)", '100us')
    .option('--payload <bytes>', 'message size', String(d.payloadBytes))
    .option('--senders <list>', 'sending hosts', d.senders.join(','))
    .option('--receiver <host>', 'receiving host', d.receiver)
    .option('--engine <kind>', 'js or native', d.engine)
    .option('--receive <mode>', 'native engine receive: blocking or busy-poll', d.receive)
    .option(
      '--fifo <prio>',
      'native engine thread at SCHED_FIFO priority (1..99; 0: SCHED_OTHER)',
      String(d.fifoPriority),
    )
    .option(
      '--max-spin-us <us>',
      "every host's engine: the most its learned spin margin before a boundary may be (µs); more covers a slow machine's wake-ups, but is spun on CPUs every host shares",
      String(d.maxSpinUs),
    )
    .option(
      '--app-fifo <prio>',
      "the receiving application (the peer's JS thread, which drains the delivery ring) at SCHED_FIFO this priority; 0: SCHED_OTHER",
      String(d.appFifoPriority ?? 0),
    )
    .option(
      '--backup-read-us <us>',
      "the receiver's backup reader: how long data may wait in the socket with no pass of the engine thread",
      String(d.backupReadUs),
    )
    .option(
      '--no-backup',
      'native: no backup reader for the receiver (by default its engine is pinned, with a backup thread on the other CPU that reads the socket the engine thread left unread for --backup-read-us)',
    )
    .option('--feed <mode>', "heartbeat (engine's clock) or refill (application, coalesce)", d.feed)
    .option('--streams <n>', 'TCP streams per bulk flow', String(d.bulkStreams))
    .option(
      '--htb-burst <duration>',
      "link time the testbed's HTB classes may bank, as `testbed up` (default 200us; tc's own is ~12us at 1 Gbit/s)",
    )
    .option(
      '--bulk-cpu <n>',
      "pin the bulk flows' iperf3 processes (and most of their softirq work) to this CPU",
    )
    .option(
      '--host-bounds <how>',
      "hosts' send/receive bounds: measure (calibrate each host's engine first) or declared (topology)",
      d.hostBounds,
    )
    .option(
      '--calibrate <s>',
      'calibration time per host with --host-bounds measure',
      String(d.calibrateSeconds),
    )
    .option(
      '--bounds-quantile <q>',
      'as `xlane agent`: the quantile the calibrated upper bound starts from (default 0.9999)',
    )
    .option('--bounds-factor <x>', 'as `xlane agent`: multiplies that quantile (default 1.5)')
    .option('--bounds-send-share <s>', 'as `xlane agent`: share of the total for the send side (default 0.5)')
    .option(
      '--bounds-min-factor <f>',
      'as `xlane agent`: the lower bound is the observed minimum × this (default 0.5)',
    )
    .option('--no-bounds-keep-max', 'as `xlane agent`: quantile × factor even below the observed max')
    .option('--json', 'print one JSON object')
    .action(async (o: InterferenceCli) => {
      const modes = o.modes
        .split(',')
        .map((m) => oneOf('modes', m.trim(), ['idle', 'express', 'fifo'] as const));
      const boundsPolicy = parseBoundsPolicy(o);
      const view = new InterferenceView();
      try {
        const r = await runInterference({
          topologyFile: o.topology,
          runsDir: o.runsDir,
          modes: modes as InterferenceMode[],
          seconds: num('seconds', o.seconds),
          minMessages: num('min-messages', o.minMessages),
          maxSeconds:
            o.maxSeconds !== undefined
              ? num('max-seconds', o.maxSeconds)
              : Math.max(d.maxSeconds, num('seconds', o.seconds)),
          periodNs: parseDuration(o.period),
          payloadBytes: num('payload', o.payload),
          senders: o.senders.split(',').map((s) => s.trim()),
          receiver: o.receiver,
          engine: oneOf('engine', o.engine, ['js', 'native'] as const),
          receive: oneOf('receive', o.receive, ['blocking', 'busy-poll'] as const),
          ...(o.fifo !== undefined && num('fifo', o.fifo) > 0 ? { fifoPriority: num('fifo', o.fifo) } : {}),
          maxSpinUs: num('max-spin-us', o.maxSpinUs),
          backup: o.backup,
          backupReadUs: num('backup-read-us', o.backupReadUs),
          ...(num('app-fifo', o.appFifo) > 0 ? { appFifoPriority: num('app-fifo', o.appFifo) } : {}),
          feed: oneOf('feed', o.feed, ['heartbeat', 'refill'] as const),
          bulkStreams: num('streams', o.streams),
          ...(o.bulkCpu !== undefined ? { bulkCpu: num('bulk-cpu', o.bulkCpu) } : {}),
          ...(o.htbBurst !== undefined ? { htbBurstNs: parseDuration(o.htbBurst) } : {}),
          hostBounds: oneOf('host-bounds', o.hostBounds, ['measure', 'declared'] as const),
          calibrateSeconds: num('calibrate', o.calibrate),
          ...(Object.keys(boundsPolicy).length > 0 ? { boundsPolicy } : {}),
          command: `xlane ${process.argv.slice(2).join(' ')}`,
          onProgress: view.update,
        });
        view.stop();
        if (o.json) return console.log(JSON.stringify(r.output));
        console.log(interferenceTable(r.output));
        console.log(`run folder: ${r.runDir} (draw it: xlane report ${r.runDir})`);
      } finally {
        view.stop();
      }
    });
}
