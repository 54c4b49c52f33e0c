// `xlane demo`: the README's main job. With root it is the proving ground: the 3-host testbed in
// namespaces, lanes from a real controller, idle / express / fifo runs under bulk cross traffic with
// a live view, and the HTML report. Without root it says what it cannot show and falls back to the
// controller (allocation) and one lane on loopback. `--controller` serves the controller demo.
import type { Command } from 'commander';
import { defaultInterferenceOptions, runInterference } from '../../bench/interference.js';
import { closeOnExitSignal } from '../../demo/close-on-signal.js';
import { type DemoStep, runControllerDemo } from '../../demo/controller-demo.js';
import { runLoopbackLane } from '../../demo/loopback-demo.js';
import { probeTestbed, type TestbedProbe } from '../../demo/testbed-probe.js';
import { loadNativeAddon } from '../../engine/native/addon.js';
import { XlaneError } from '../../errors.js';
import { InterferenceView, interferenceTable } from '../interference-view.js';
import { laneTable } from './lanes.js';
import { mostLoaded, portTable } from './status.js';

interface DemoCliOptions {
  topology?: string;
  db?: string;
  listen?: string;
  once?: boolean;
  json?: boolean;
  controller?: boolean;
  seconds: string;
  runsDir: string;
  engine: string;
}

export interface DemoDeps {
  /** Tests choose the fallback with this without giving up root. */
  probe?: () => TestbedProbe;
}

/** TEST-ONLY hook, not an operator option: a test that runs `xlane demo` as a child process (to send
 * it a real SIGINT) cannot pass `DemoDeps.probe`, so XLANE_TEST_DEMO_FALLBACK=1 stands in for it and
 * forces the fallback. The missing piece it names says it was the hook. */
export const TEST_FALLBACK_ENV = 'XLANE_TEST_DEMO_FALLBACK';

function testFallbackProbe(): TestbedProbe | undefined {
  if (process.env[TEST_FALLBACK_ENV] !== '1') return undefined;
  return { ok: false, missing: [`nothing (the test hook ${TEST_FALLBACK_ENV}=1 forced the fallback)`] };
}

export function register(program: Command, deps: DemoDeps = {}): void {
  program
    .command('demo')
    .description(
      'The proving ground (root): express lanes vs bulk cross traffic on a namespace testbed, live, with a report.',
    )
    .option('--seconds <s>', 'recording time per mode (idle, express, fifo)', '5')
    .option('--runs-dir <dir>', 'where the run folder and report go', 'runs')
    .option('--engine <kind>', 'lane engine: native or js', 'native')
    .option('--controller', 'only the controller demo: admit lanes over the API and keep serving')
    .option('--topology <file>', 'topology YAML (default: the shipped examples/testbed-3.yaml)')
    .option('--db <file>', 'controller demo: SQLite state file (default: a temporary one)')
    .option('--listen <addr>', 'controller demo: HOST:PORT (default 127.0.0.1:7300, or any free port)')
    .option('--once', 'controller demo: exit after printing instead of serving until Ctrl-C')
    .option('--json', 'controller demo: print the outcome as JSON (implies --once)')
    .action(async (o: DemoCliOptions) => {
      if (o.controller || o.once || o.json) return controllerDemo(o);
      const seconds = Number(o.seconds);
      if (!(seconds >= 1 && seconds <= 600))
        throw new XlaneError('XL_ERR_VALIDATION', `--seconds must be in [1, 600] (got "${o.seconds}")`);
      const probe = deps.probe?.() ?? testFallbackProbe() ?? probeTestbed();
      if (probe.ok) return provingGround(o, seconds);
      console.log(
        `The proving ground needs ${probe.missing.join('; ')}.\n` +
          'Without it this demo cannot build the network in namespaces, shape links, run cross traffic or ' +
          'show what the express class buys. Showing instead: the controller granting lanes on the ' +
          '3-host example, and one granted lane run on loopback.\n',
      );
      await loopbackDemo(o);
    });
}

async function provingGround(o: DemoCliOptions, seconds: number): Promise<void> {
  const d = defaultInterferenceOptions();
  if (o.engine !== 'native' && o.engine !== 'js')
    throw new XlaneError('XL_ERR_VALIDATION', `--engine must be native or js (got "${o.engine}")`);
  let engine: 'native' | 'js' = o.engine;
  const addon = engine === 'native' ? loadNativeAddon() : undefined;
  if (addon && !addon.ok) {
    // The agent's fallback too: the js engine passes the same conformance suite, only slower.
    engine = 'js';
    console.log(
      `The native engine is not available (${addon.reason}): running the js engine instead ` +
        '(slower; its frames get the express DSCP from an nftables rule on each sender).\n',
    );
  }
  console.log(
    `Building the ${o.topology ?? 'testbed-3'} network in namespaces; lanes ${d.senders.join(', ')} → ${d.receiver} ` +
      `every ${d.periodNs / 1000} µs; bulk TCP from the senders saturates ${d.receiver}'s switch port.\n` +
      `Modes: idle (no bulk), express (X-Lane: strict-priority express class), fifo (one queue: no X-Lane). ` +
      `${seconds} s each. Ctrl-C cleans up.\n`,
  );
  const view = new InterferenceView(process.stdout);
  try {
    const r = await runInterference({
      ...d,
      ...(o.topology ? { topologyFile: o.topology } : {}),
      runsDir: o.runsDir,
      // A demo records for the time it was given: the sample the targets need is the bench's.
      seconds,
      minMessages: 0,
      maxSeconds: seconds,
      engine,
      command: `xlane ${process.argv.slice(2).join(' ')}`,
      onProgress: view.update,
    });
    view.stop();
    console.log(`\n${interferenceTable(r.output)}`);
    if (r.output.targets.atLeast100kMessagesPerLane === false)
      console.log(
        `(${seconds} s per mode is a demo: the 100,000-message target needs the full run, \`xlane bench interference\`, which records until each lane has them.)`,
      );
    // Loaded on use: Plot and linkedom add to the start-up of every other command.
    const { writeReport } = await import('../../report/write.js');
    const report = writeReport(r.runDir);
    console.log(`\nreport: ${report.html}  (open it in a browser; figures as SVG next to it)`);
    console.log(`run folder: ${r.runDir}`);
  } finally {
    view.stop();
  }
}

async function loopbackDemo(o: DemoCliOptions): Promise<void> {
  const starting = runControllerDemo({
    ...(o.topology ? { topology: o.topology } : {}),
    ...(o.db ? { dbPath: o.db } : {}),
    ...(o.listen ? { listen: o.listen } : {}),
  });
  // Once: a signal may arrive while the normal path is already closing. A demo that failed to start
  // has removed its folder itself.
  let closing: Promise<void> | undefined;
  const close = async () => {
    const d = await starting.catch(() => undefined);
    closing ??= d?.controller.close();
    await closing;
  };
  // Without this, Ctrl-C during the loopback run kills the process and leaves xlane-demo-* behind.
  const offSignal = closeOnExitSignal(close);
  const demo = await starting.catch((err: unknown) => {
    offSignal();
    throw err;
  });
  try {
    printSteps(demo.steps);
    console.log(`\n${laneTable(demo.lanes)}\n`);
    const hb = demo.lanes.find((l) => l.name === 'hb-h1-h3') ?? demo.lanes[0];
    if (!hb) return;
    console.log(
      `Running ${hb.name ?? hb.id} (${hb.grant.maxPayloadBytes} B every ${hb.grant.minPeriodNs / 1000} µs) on 127.0.0.1 for 3 s…`,
    );
    const { lane: l } = await runLoopbackLane(hb, 3);
    // No frame: the figures are NaN, which must not be printed as numbers.
    console.log(
      l.messages > 0
        ? `${l.messages} frames, one-way p50 ${l.p50Us} µs, p99 ${l.p99Us} µs, p99.9 ${l.p999Us} µs, max ${l.maxUs} µs; ` +
            `promised window ${l.lambdaMinUs}..${l.boundUs} µs, ${(l.withinBound * 100).toFixed(2)}% inside.`
        : `No frame arrived in 3 s (promised window ${l.lambdaMinUs}..${l.boundUs} µs): no latency to show.`,
    );
    console.log(
      'On loopback a frame crosses one host stack and no link: below λ_min is expected, and no cross ' +
        'traffic competes. Run as root for the real comparison.',
    );
  } finally {
    try {
      await close();
    } finally {
      offSignal();
    }
  }
}

async function controllerDemo(o: DemoCliOptions): Promise<void> {
  const demo = await runControllerDemo({
    ...(o.topology ? { topology: o.topology } : {}),
    ...(o.db ? { dbPath: o.db } : {}),
    ...(o.listen ? { listen: o.listen } : {}),
  });
  const { controller, steps, lanes, ports } = demo;
  if (o.json) {
    console.log(JSON.stringify({ url: controller.url, db: demo.dbPath, steps, lanes, ports }, null, 2));
    await controller.close();
    return;
  }
  console.log(
    `xlane controller serving ${o.topology ?? 'examples/testbed-3.yaml'} at ${controller.url} (state: ${demo.dbPath})\n`,
  );
  printSteps(steps);
  console.log(`\n${laneTable(lanes)}\n\nmost loaded egress ports`);
  console.log(portTable(mostLoaded(ports, 6)));
  if (o.once) {
    await controller.close();
    return;
  }
  console.log(
    `\nTry: xlane lanes list --controller ${controller.url}   |   xlane status --controller ${controller.url}`,
  );
  console.log('Serving until Ctrl-C.');
  await new Promise<void>((done) => {
    const stop = () => controller.close().then(done, done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function printSteps(steps: DemoStep[]): void {
  for (const s of steps) {
    const what = `${s.request.name}: ${s.request.sender} → ${s.request.receivers.join(',')}`;
    if (s.refused) console.log(`  refused  ${what}\n           ${s.refused.code}: ${s.refused.message}`);
    else {
      const re = s.changed.map((c) => `${c.laneId} (${c.reasons.join(', ')})`).join('; ');
      console.log(`  admitted ${what} as ${s.lane?.id} [${s.lane?.state}]${re ? `; re-tuned ${re}` : ''}`);
    }
  }
}
