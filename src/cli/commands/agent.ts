// `xlane agent`: the per-host daemon, until SIGINT/SIGTERM (then it removes its kernel QoS and
// closes the engine).
import type { Command } from 'commander';
import pino from 'pino';
import { checkInterface, NO_QOS_IFACE, startDaemon } from '../../agent/daemon.js';
import { parseEngineKind, parseEngineTuning } from '../../agent/engine-factory.js';
import {
  parseBoundsPolicy,
  parseCalibrateSeconds,
  parseHostBoundsMode,
} from '../../agent/host-bounds/options.js';
import { DEFAULT_SOCKET } from '../../client/connect.js';
import { envSetting } from '../../client/controller-client.js';
import { resolveCore } from '../../tune/core-choice.js';
import { createHostFs } from '../../tune/host-fs.js';
import { parseDuration } from '../../util/units.js';
import { cpuNumber, logLevel, TOKEN_FILE_HELP, tokenOption } from '../option-values.js';
import { stopOnSignal } from '../stop-on-signal.js';

interface AgentCliOptions {
  controller?: string;
  host: string;
  engine: string;
  fifo?: string;
  receive?: string;
  spinUs?: string;
  maxSpinUs?: string;
  backupCore?: string;
  backupReadUs?: string;
  core?: number;
  socket?: string;
  stateDir?: string;
  iface?: string;
  peers?: string;
  peersFile?: string;
  metrics?: string;
  token?: string;
  tokenFile?: string;
  logLevel: string;
  fd?: string[];
  fdPeriod?: string;
  fdConfirm?: string;
  hostBounds: string;
  calibrateSeconds?: string;
  boundsQuantile?: string;
  boundsFactor?: string;
  boundsSendShare?: string;
  boundsMinFactor?: string;
  boundsKeepMax?: boolean;
}

/** --socket, else XLANE_SOCKET (empty is unset, as connect() reads it), else the default. */
export function agentSocket(o: { socket?: string }): string {
  return o.socket ?? envSetting('XLANE_SOCKET', process.env.XLANE_SOCKET) ?? DEFAULT_SOCKET;
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('Run the host agent: follow grants, drive the lane engine and kernel QoS, serve local apps.')
    .requiredOption('--host <name>', 'this host, as named in the topology')
    .option('--controller <url>', 'controller URL (default: env XLANE_CONTROLLER or http://127.0.0.1:7300)')
    .option('--engine <kind>', 'lane engine: js or native', 'js')
    .option(
      '--core <n>',
      "CPU for the engine thread (default: chosen from the NIC's NUMA node and the isolated CPUs)",
      (v: string) => cpuNumber('core', v),
    )
    .option(
      '--fifo <prio>',
      'run the engine thread (native) or pacing worker (js) SCHED_FIFO at this priority (1..98)',
    )
    .option('--receive <mode>', 'native engine receive: busy-poll (default) or blocking')
    .option(
      '--spin-us <us>',
      "engine thread (native) or pacing worker (js): sleep until this long before a send boundary or liveness deadline, then spin (µs), or auto (default): learn it from how late the thread's own timed sleeps end",
    )
    .option(
      '--max-spin-us <us>',
      'with --spin-us auto: the most the learned margin may be (default 100; lower it on CPUs several engines share)',
    )
    .option(
      '--backup-core <n>',
      "native engine: a backup clock on this CPU sends the heartbeats the engine thread misses while its CPU is stalled (a VM's vCPU preemption; another CPU than --core's)",
    )
    .option(
      '--backup-read-us <us>',
      'native engine, with --backup-core: the backup thread also reads the socket when data waited this long (µs) with no pass of the engine thread (its CPU stalled)',
    )
    .option('--socket <path>', `local API socket (default: env XLANE_SOCKET or ${DEFAULT_SOCKET})`)
    .option(
      '--state-dir <dir>',
      "where the agent keeps its applications' lanes and the X-FD incarnation (default: next to the socket; a persistent one, e.g. /var/lib/xlane, keeps them across a reboot)",
    )
    .option(
      '--iface <dev>',
      'egress interface for kernel QoS (tc HTB); none: knowingly without (absent: without, with a warning)',
    )
    .option('--peers <list>', 'host addresses: h1=10.0.0.1,h2=10.0.0.2 (beats --peers-file)')
    .option('--peers-file <file>', 'host addresses, one "name address" per line')
    .option('--metrics <addr>', 'serve Prometheus /metrics on HOST:PORT, e.g. 127.0.0.1:9464')
    .option('--token <token>', 'controller bearer token (default: env XLANE_TOKEN)')
    .option('--token-file <file>', TOKEN_FILE_HELP)
    .option('--log-level <level>', 'pino log level', logLevel, 'info')
    .option(
      '--fd <group[=members]>',
      'run the X-FD failure detector for a group: g1 (every host of the topology) or g1=h1,h2,h3 (this host included); repeatable',
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option('--fd-period <dur>', 'heartbeat period of the failure-detector lanes (default 1ms)')
    .option('--fd-confirm <dur>', 'suspected this long without interruption = down (default 1s)')
    .option(
      '--host-bounds <mode>',
      "this host's send/receive bounds: declared (the topology file's) or measure (calibrate at start, send them to the controller)",
      'declared',
    )
    .option(
      '--calibrate-seconds <n>',
      'with --host-bounds measure: how long to calibrate (default 2, at most 30)',
    )
    .option(
      '--bounds-quantile <q>',
      'with --host-bounds measure: the quantile the upper bound starts from (default 0.9999)',
    )
    .option('--bounds-factor <x>', 'with --host-bounds measure: multiplies that quantile, ≥ 1 (default 1.5)')
    .option(
      '--bounds-send-share <s>',
      'with --host-bounds measure: share of the measured total for the send side, 0..1 (default 0.5; 1 or 0 for hosts unlike their peers)',
    )
    .option(
      '--bounds-min-factor <f>',
      'with --host-bounds measure: the lower bound is the smallest latency the calibration saw × this, (0, 1] (default 0.5: the minimum moves between runs, and an early frame breaks the window too)',
    )
    .option(
      '--no-bounds-keep-max',
      'with --host-bounds measure: the upper bound is quantile × factor even below the largest latency the calibration saw (a quantile promise, not one set by its worst stall)',
    )
    .action(async (o: AgentCliOptions) => {
      // First: a token file that cannot be read stops the start before anything is set up.
      const token = tokenOption(o);
      const socket = agentSocket(o);
      const log = pino({ level: o.logLevel, base: { host: o.host } });
      const hostBounds = parseHostBoundsMode(o.hostBounds);
      const engineTuning = parseEngineTuning(o);
      const calibrateSeconds =
        o.calibrateSeconds === undefined ? undefined : parseCalibrateSeconds(o.calibrateSeconds);
      const boundsPolicy = parseBoundsPolicy(o);
      if (
        hostBounds !== 'measure' &&
        (calibrateSeconds !== undefined || Object.keys(boundsPolicy).length > 0)
      )
        log.warn('--calibrate-seconds and --bounds-* apply only with --host-bounds measure: ignored');
      // Before the core choice, which would otherwise name a NIC that does not exist.
      checkInterface(o.iface);
      // Same placement rule as `xlane tune core`: isolated CPUs on the NIC's NUMA node first.
      const placement = resolveCore(createHostFs('/'), {
        ...(o.core !== undefined ? { core: o.core } : {}),
        ...(o.iface && o.iface !== NO_QOS_IFACE ? { nic: o.iface } : {}),
      });
      const core = placement.core;
      log.info({ core, reason: placement.reason }, 'lane core');
      if (engineTuning.backupCore === core)
        log.warn(
          { core },
          'the backup clock shares the engine thread’s CPU: it cannot cover that CPU’s stalls',
        );
      const daemon = await startDaemon({
        host: o.host,
        engine: parseEngineKind(o.engine),
        engineTuning,
        socket,
        ...(o.stateDir !== undefined ? { stateDir: o.stateDir } : {}),
        log,
        ...(o.controller ? { controller: o.controller } : {}),
        ...(token ? { token } : {}),
        core,
        ...(o.iface ? { iface: o.iface } : {}),
        ...(o.peers ? { peers: o.peers } : {}),
        ...(o.peersFile ? { peersFile: o.peersFile } : {}),
        ...(o.metrics ? { metrics: o.metrics } : {}),
        ...(o.fd ? { fd: o.fd } : {}),
        ...(o.fdPeriod !== undefined ? { fdPeriodNs: parseDuration(o.fdPeriod) } : {}),
        ...(o.fdConfirm !== undefined ? { fdConfirmNs: parseDuration(o.fdConfirm) } : {}),
        hostBounds,
        ...(calibrateSeconds !== undefined ? { calibrateSeconds } : {}),
        ...(Object.keys(boundsPolicy).length > 0 ? { boundsPolicy } : {}),
      });
      log.info(
        { socket: daemon.localApi.socketPath, metrics: daemon.metrics?.url, ...daemon.agent.status() },
        'agent running',
      );
      stopOnSignal('agent', log, () => daemon.close());
    });
}
