// `xlane bench interference`: X-Lane's claim on real Linux networking. For each mode — idle (no cross
// traffic), express (bulk TCP cross traffic, express class on every port) and fifo (the same bulk,
// one FIFO per port: the network without X-Lane) — it builds the topology as a namespace testbed,
// runs a lane engine per host with the lanes a real controller granted (2 senders → 1 receiver at
// 100 µs by default), saturates the receiver's switch port with iperf3, and records every frame's
// one-way latency against the lane's promised window. Everything it starts is stopped and every
// namespace removed, also on failure and Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import type { BoundsPolicy } from '../agent/host-bounds/statistics.js';
import { desiredLaneSpecs } from '../agent/lane-specs.js';
import { desiredMarking } from '../agent/qos/dscp-mark.js';
import { DscpMarker, execNftRunner } from '../agent/qos/dscp-marker.js';
import { classSentPackets } from '../agent/qos/tc-parse.js';
import { ControllerClient } from '../client/controller-client.js';
import { type RunningController, startController } from '../controller/server.js';
import type { WireGrant } from '../controller/views.js';
import { EXAMPLE_TOPOLOGY } from '../demo/controller-demo.js';
import { RealtimeOffset } from '../engine/clock.js';
import { measureRealtimeOffsetBest } from '../engine/native/select.js';
import { SHARED_CPU_MAX_SPIN_US } from '../engine/spin-setting.js';
import type { ReceiverSpec, SenderSpec } from '../engine/types.js';
import { isXlaneError, XlaneError } from '../errors.js';
import { requireRoot } from '../testbed/apply.js';
import { testbedDown, testbedUp } from '../testbed/lifecycle.js';
import type { TestbedPlan } from '../testbed/plan.js';
import { validateHtbBurst } from '../testbed/plan.js';
import { type CrossTrafficResult, runCrossTraffic } from '../testbed/traffic.js';
import { loadTopologyFile } from '../topology/load.js';
import type { TopologySpec } from '../topology/spec.js';
import { onExitSignal } from '../util/exit-signals.js';
import { backupCores, DEFAULT_BACKUP_READ_US } from './backup-cores.js';
import { cpuShares, readCpuTimes } from './cpu-share.js';
import { PeerProcess, peerCommand } from './engine-peer-process.js';
import type { NativeReceiveMode } from './engine-peer-protocol.js';
import { notesFor } from './interference-notes.js';
import type {
  FeedMode,
  InterferencePeerConfig,
  InterferencePeerReply,
  InterferencePeerRequest,
  ProgressLane,
} from './interference-peer-protocol.js';
import { bulkMbpsIn, bulkSeries, expectedRecordingSec, keepRecording } from './interference-recording.js';
import { analyseLane, type LaneWindow } from './interference-stats.js';
import { judgeTargets } from './interference-targets.js';
import type {
  AllocationLane,
  AllocationPort,
  InterferenceMode,
  InterferenceOutput,
  InterferenceRecord,
  InterferenceRunDetail,
} from './interference-types.js';

type Peer = PeerProcess<InterferencePeerRequest, InterferencePeerReply>;

export interface InterferenceOptions {
  topologyFile: string;
  runsDir: string;
  modes: InterferenceMode[];
  /** Recording time per mode (s), at least. */
  seconds: number;
  /** Then on until every lane has recorded this many messages (0: stop at `seconds`). Senders on
   * shared CPUs release only part of their periods, so a fixed time gives no fixed sample. */
  minMessages: number;
  /** The longest a mode records (s), messages or not. */
  maxSeconds: number;
  periodNs: number;
  payloadBytes: number;
  senders: string[];
  receiver: string;
  engine: 'js' | 'native';
  receive: NativeReceiveMode;
  fifoPriority?: number;
  /** Every host's engine: the most its learned spin margin may be (µs; default
   * SHARED_CPU_MAX_SPIN_US). Each µs of margin is spun before each 100 µs boundary, on CPUs every
   * host, the switch and the bulk share. */
  maxSpinUs?: number;
  /** Native: the receiving host's engine pinned, with a backup thread on the next CPU that reads a
   * socket its engine thread left unread for backupReadUs (and releases late heartbeats). */
  backup?: boolean;
  /** How long data may wait in the receiver's socket, with no pass of its engine thread, before
   * the backup reads it (one look per interval). */
  backupReadUs?: number;
  /** The receiving host's application (the peer's JS thread, which drains the engine's delivery
   * ring and records) at SCHED_FIFO this priority: below the engine threads, above iperf3. */
  appFifoPriority?: number;
  feed: FeedMode;
  /** Parallel TCP streams per bulk flow (one flow from each sender to the receiver). */
  bulkStreams: number;
  /** Every bulk flow's iperf3 processes (and so most of their softirq work) pinned to this CPU. */
  bulkCpu?: number;
  /** Link time the testbed's HTB classes may bank (default HTB_BURST_NS, as `testbed up`). */
  htbBurstNs?: number;
  /** Host send/receive bounds: the topology's, or measured on each host's engine before the runs
   * (the agent's calibration) and given to the controller, so the windows include them. */
  hostBounds: 'declared' | 'measure';
  calibrateSeconds: number;
  /** How the calibration becomes bounds, as the agent's --bounds-* flags (default: the agent's). */
  boundsPolicy?: Partial<BoundsPolicy>;
  /** Recorded in the run file. */
  command: string;
  onProgress?: (p: InterferenceProgress) => void;
}

export interface InterferenceProgress {
  mode: InterferenceMode;
  phase: 'setup' | 'warmup' | 'recording' | 'analysing' | 'done';
  elapsedSec: number;
  totalSec: number;
  lanes: (ProgressLane & { name: string; boundUs: number })[];
}

export interface InterferenceResult {
  output: InterferenceOutput;
  record: InterferenceRecord;
  runDir: string;
}

const WARMUP_SEC = 2;
const PROGRESS_MS = 500;
const BULK_INTERVAL_SEC = 0.5;
const BENCH_NAME_PREFIX = 'xif';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function defaultInterferenceOptions(): Omit<InterferenceOptions, 'command'> {
  return {
    // The shipped example, not one under the working directory: `xlane demo` runs from anywhere.
    topologyFile: EXAMPLE_TOPOLOGY,
    runsDir: 'runs',
    modes: ['idle', 'express', 'fifo'],
    seconds: 12,
    // ≥ 100,000 per lane, so a 99.99 % within-bound share rests on at least 10 outliers' worth.
    minMessages: 100_000,
    maxSeconds: 40,
    periodNs: 100_000,
    payloadBytes: 64,
    senders: ['h1', 'h3'],
    receiver: 'h2',
    engine: 'native',
    receive: 'blocking',
    // SCHED_FIFO: an engine thread that wakes for a frame or a boundary preempts iperf3 and the rest
    // at once; it never spins flat out (sleep-then-spin, blocking receive), so RT throttling stays away.
    fifoPriority: 10,
    // A learned spin margin, but no longer than 30 µs: at 50 µs the express p99.99 went to 10 ms,
    // at 70 the senders starved the rest (docs/benchmarks.md, eleventh session).
    maxSpinUs: SHARED_CPU_MAX_SPIN_US,
    // The receiving application too (the peer's JS thread, event-driven, never spinning): at
    // SCHED_OTHER it lost its CPU to iperf3 for 10+ ms, its delivery ring filled, and the engine
    // left frames in the socket meanwhile (receiverEngine.ringFullWaits; p99.9 7-10 ms, not 0.2).
    appFifoPriority: 5,
    // The receiver's engine pinned, with a backup reader on the other CPU: its late frames were
    // late in the receiving host (outlierCauses), and the reader at 50 µs cut the messages over
    // 500 µs per run from a median of 154 to 15 (docs/native-engine.md, "The backup reader").
    backup: true,
    backupReadUs: DEFAULT_BACKUP_READ_US,
    feed: 'heartbeat',
    bulkStreams: 1,
    hostBounds: 'measure',
    calibrateSeconds: 5,
  };
}

export function validateInterference(o: InterferenceOptions, spec: TopologySpec): void {
  const hosts = new Set(spec.hosts.map((h) => h.name));
  const bad: string[] = [];
  for (const h of [...o.senders, o.receiver]) if (!hosts.has(h)) bad.push(`unknown host ${h}`);
  if (o.senders.includes(o.receiver)) bad.push('the receiver cannot also be a sender');
  if (o.senders.length === 0) bad.push('at least one sender');
  const spin = o.maxSpinUs;
  if (spin !== undefined && !(spin >= 0 && spin <= 10_000))
    bad.push('the spin margin cap must be 0..10000 µs');
  const read = o.backupReadUs;
  if (read !== undefined && !(read >= 10 && read <= 1_000_000))
    bad.push('backup read interval must be 10..1000000 µs');
  const app = o.appFifoPriority;
  if (app !== undefined && !(Number.isInteger(app) && app >= 1 && app <= 98))
    bad.push('the application priority must be an integer in [1, 98]');
  if (o.htbBurstNs !== undefined) validateHtbBurst(o.htbBurstNs);
  const bulkCpu = o.bulkCpu;
  if (bulkCpu !== undefined && !(Number.isInteger(bulkCpu) && bulkCpu >= 0 && bulkCpu < cpus().length))
    bad.push(`the bulk CPU must be one of this machine's CPUs, 0..${cpus().length - 1}`);
  if (!(o.seconds >= 1 && o.seconds <= 600)) bad.push('seconds must be in [1, 600]');
  if (!(o.maxSeconds >= o.seconds && o.maxSeconds <= 600))
    bad.push('the longest recording must be in [seconds, 600]');
  if (!(Number.isInteger(o.minMessages) && o.minMessages >= 0 && o.minMessages <= 10_000_000))
    bad.push('messages per lane must be an integer in [0, 10000000]');
  if (!(o.periodNs >= 10_000 && o.periodNs <= 1e9)) bad.push('period must be in [10 µs, 1 s]');
  if (!(Number.isInteger(o.payloadBytes) && o.payloadBytes >= 1 && o.payloadBytes <= 1418))
    bad.push('payload must be 1..1418 bytes');
  if (o.modes.length === 0) bad.push('at least one mode');
  if (!(o.calibrateSeconds >= 1 && o.calibrateSeconds <= 30)) bad.push('calibration must take 1..30 s');
  if (bad.length > 0) throw new XlaneError('XL_ERR_VALIDATION', bad.join('; '));
}

export async function runInterference(o: InterferenceOptions): Promise<InterferenceResult> {
  requireRoot();
  const spec = loadTopologyFile(o.topologyFile);
  validateInterference(o, spec);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = resolve(o.runsDir, `interference-${stamp}`);
  const sampleDir = join(runDir, 'samples');
  mkdirSync(sampleDir, { recursive: true });
  const name = `${BENCH_NAME_PREFIX}-${process.pid}`;

  // Ctrl-C or SIGTERM: whatever is up goes down before the process exits.
  let cleanup: (() => void) | undefined;
  const offSignals = onExitSignal(() => cleanup?.());

  const controller = await startController({
    topology: spec,
    dbPath: join(runDir, 'xlane.db'),
    listen: '127.0.0.1:0',
    logger: false,
  });
  try {
    // Lanes are opened once, on the first testbed: after the hosts' calibration when bounds are
    // measured, so every window includes them. Every mode then runs the same grants.
    let alloc: Allocation | undefined;
    const allocation = async (peers: Map<string, Peer>) => {
      if (!alloc) {
        if (o.hostBounds === 'measure') await calibrate(controller, peers, o, spec);
        alloc = await allocate(controller, o);
      }
      return alloc;
    };
    const runs: InterferenceRunDetail[] = [];
    for (const mode of o.modes) {
      runs.push(await runMode(mode, o, spec, name, sampleDir, allocation, (c) => (cleanup = c)));
      cleanup = undefined;
    }
    if (!alloc) throw new XlaneError('XL_ERR_INTERNAL', 'no run allocated lanes');
    const record: InterferenceRecord = {
      kind: 'xlane-interference',
      version: 1,
      createdAt: new Date().toISOString(),
      command: o.command,
      topology: spec.name,
      machine: { cpus: cpus().length, loadAvg1: Math.round(loadavg()[0]! * 100) / 100, kernel: release() },
      allocation: alloc.table,
      hostBounds: alloc.hostBounds,
      runs,
      targets: judgeTargets(runs, runs[0]?.linkMbps),
      notes: notesFor(o, runs, alloc.hostBounds),
    };
    writeFileSync(join(runDir, 'interference.json'), `${JSON.stringify(record, null, 1)}\n`);
    const output: InterferenceOutput = {
      runDir,
      runs: runs.map((r) => ({
        mode: r.mode,
        bulkMbps: r.bulkMbps,
        ...(r.linkMbps !== undefined ? { linkMbps: r.linkMbps } : {}),
        ...(r.cpuShare ? { cpuShare: r.cpuShare } : {}),
        lanes: r.lanes.map(({ cdf: _c, series: _s, firstOutliers: _f, ...summary }) => summary),
      })),
      targets: record.targets!,
    };
    return { output, record, runDir };
  } finally {
    offSignals();
    await controller.close();
  }
}

interface Allocation {
  grants: Map<string, WireGrant[]>;
  windows: Map<string, LaneWindow>;
  table: InterferenceRecord['allocation'];
  hostBounds: InterferenceRecord['hostBounds'];
}

/** The hosts calibrate one after the other, as hosts on their own CPUs would, and the controller
 * gets each host's bounds exactly as an agent started with `--host-bounds measure` sends them.
 * Not all at once: three engines each sending and receiving every 100 µs at SCHED_FIFO on the two
 * vCPUs every emulated host shares is more real-time load than any run puts on them, and 9 of 60
 * such calibrations stalled 10-70 ms (0 of 60 one at a time; docs/benchmarks.md, tenth session). */
async function calibrate(
  controller: RunningController,
  peers: Map<string, Peer>,
  o: InterferenceOptions,
  spec: TopologySpec,
): Promise<void> {
  const client = new ControllerClient({ url: controller.url });
  for (const [host, peer] of peers) {
    const r = await peer.request(
      {
        op: 'calibrate',
        seconds: o.calibrateSeconds,
        periodNs: o.periodNs,
        dscp: spec.expressDscp ?? 46,
        ...(o.boundsPolicy ? { policy: o.boundsPolicy } : {}),
      },
      (o.calibrateSeconds + 30) * 1000,
    );
    await client.setHostLatency(host, r.request);
  }
}

/** A lane refused after the hosts measured their bounds: the refusal names a port, but the cause
 * is usually a host whose calibration caught a long stall (its send bound widens every burst
 * downstream). Say which host measured what, so the user can tell. */
export async function withMeasuredBounds(err: unknown, client: ControllerClient): Promise<unknown> {
  if (!isXlaneError(err) || err.code !== 'XL_ERR_ADMISSION_REJECTED') return err;
  const hosts = await client.hosts().catch(() => []);
  const measured = hosts
    .filter((h) => h.bounds.source === 'measured')
    .map(
      (h) =>
        `${h.name} send ≤ ${fmtUs(h.bounds.sendLatency.maxNs)}, receive ≤ ${fmtUs(h.bounds.recvLatency.maxNs)}`,
    );
  if (measured.length === 0) return err;
  return new XlaneError(
    'XL_ERR_ADMISSION_REJECTED',
    `${err.message} — with the bounds the hosts measured before the runs (${measured.join('; ')}): ` +
      'a calibration that caught a long stall widens every burst downstream. Run again, calibrate longer ' +
      "(--calibrate), or use the topology's bounds (--host-bounds declared).",
    err.details,
  );
}

const fmtUs = (ns: number) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : `${Math.round(ns / 1000)} µs`);

/** The lanes, asked of a real controller over its HTTP API exactly as an agent or client would. */
async function allocate(controller: RunningController, o: InterferenceOptions): Promise<Allocation> {
  const client = new ControllerClient({ url: controller.url });
  const lanes: AllocationLane[] = [];
  const windows = new Map<string, LaneWindow>();
  for (const s of o.senders) {
    const { lane } = await client
      .openLane({
        name: `${s}-${o.receiver}`,
        sender: s,
        receivers: [o.receiver],
        maxPayloadBytes: o.payloadBytes,
        minPeriodNs: o.periodNs,
        policy: 'coalesce',
      })
      .catch(async (err: unknown) => {
        throw o.hostBounds === 'measure' ? await withMeasuredBounds(err, client) : err;
      });
    const g = lane.grant;
    const r = g.receivers[0]!;
    lanes.push({
      lane: g.laneId,
      name: lane.name ?? g.laneId,
      from: g.sender,
      to: g.receivers.map((x) => x.host),
      payloadBytes: g.maxPayloadBytes,
      periodNs: g.minPeriodNs,
      ...(g.phaseNs !== undefined ? { phaseNs: g.phaseNs } : {}),
      lambdaMinUs: r.lambdaMinNs / 1000,
      lambdaMaxUs: r.lambdaMaxNs / 1000,
      path: r.path,
    });
    windows.set(g.laneId, {
      lane: g.laneId,
      name: lane.name ?? g.laneId,
      from: g.sender,
      to: r.host,
      periodNs: g.minPeriodNs,
      payloadBytes: g.maxPayloadBytes,
      lambdaMinNs: r.lambdaMinNs,
      lambdaMaxNs: r.lambdaMaxNs,
    });
  }
  const grants = new Map<string, WireGrant[]>();
  for (const h of [...o.senders, o.receiver]) grants.set(h, (await client.grants(h)).grants);
  const involved = new Set([...o.senders, o.receiver]);
  const hostBounds = (await client.hosts())
    .filter((h) => involved.has(h.name))
    .map((h) => {
      const b = h.bounds;
      const us = (r: { minNs: number; maxNs: number }): [number, number] => [r.minNs / 1000, r.maxNs / 1000];
      return {
        host: h.name,
        source: b.source,
        sendUs: us(b.sendLatency),
        recvUs: us(b.recvLatency),
        ...(b.measured?.observed
          ? { observedMaxUs: b.measured.observed.maxNs / 1000, samples: b.measured.samples }
          : {}),
        ...(b.measured?.ringFullWaits !== undefined
          ? { calibrationRingFullWaits: b.measured.ringFullWaits }
          : {}),
      };
    });
  const ports: AllocationPort[] = (await client.ports())
    .filter((p) => p.expressBps > 0)
    .map((p) => ({
      from: p.from,
      to: p.to,
      rateBps: p.rateBps,
      expressShare: p.rateBps > 0 ? p.shareBps / p.rateBps : 0,
      expressLoadBps: p.expressBps,
      delayBoundUs: p.delayNs / 1000,
    }));
  return { grants, windows, table: { lanes, ports }, hostBounds };
}

const benchRealtimeOffset = new RealtimeOffset(() => measureRealtimeOffsetBest());

function specsFor(host: string, plan: TestbedPlan, alloc: Allocation, o: InterferenceOptions, port: number) {
  const peers = new Map(plan.addresses.map((a) => [a.host, a.address]));
  const { specs, errors } = desiredLaneSpecs(alloc.grants.get(host) ?? [], {
    host,
    peers,
    expressPort: port,
    // Every emulated host shares this machine's clocks: one offset serves them all.
    realtimeOffsetNs: () => benchRealtimeOffset.get(),
  });
  if (errors.length > 0)
    throw new XlaneError(
      'XL_ERR_INTERNAL',
      `cannot configure ${host}: ${errors.map((e) => e.message).join('; ')}`,
    );
  const senders: SenderSpec[] = [...specs.senders.values()].map((s) =>
    o.feed === 'heartbeat' ? { ...s, heartbeat: { incarnation: 1 } } : s,
  );
  const receivers: ReceiverSpec[] = [...specs.receivers.values()].map((r) => ({
    ...r,
    heartbeat: { deliver: true },
  }));
  return { senders, receivers };
}

async function runMode(
  mode: InterferenceMode,
  o: InterferenceOptions,
  spec: TopologySpec,
  name: string,
  sampleDir: string,
  allocation: (peers: Map<string, Peer>) => Promise<Allocation>,
  setCleanup: (fn: () => void) => void,
): Promise<InterferenceRunDetail> {
  let alloc: Allocation | undefined;
  let expectSec = o.seconds;
  const progress = (phase: InterferenceProgress['phase'], elapsedSec: number, lanes: ProgressLane[] = []) =>
    o.onProgress?.({
      mode,
      phase,
      elapsedSec,
      totalSec: expectSec,
      lanes: lanes.map((l) => ({
        ...l,
        name: alloc?.windows.get(l.lane)?.name ?? l.lane,
        boundUs: (alloc?.windows.get(l.lane)?.lambdaMaxNs ?? Number.NaN) / 1000,
      })),
    });
  progress('setup', 0);
  const { state } = testbedUp(spec, {
    name,
    fifo: mode === 'fifo',
    runsDir: o.runsDir,
    ...(o.htbBurstNs !== undefined ? { htbBurstNs: o.htbBurstNs } : {}),
  });
  const peers: Peer[] = [];
  const bulkAbort = new AbortController();
  const bulkStop = new AbortController();
  const down = () => {
    bulkAbort.abort();
    for (const p of peers) p.kill();
    testbedDown(o.runsDir, name);
  };
  setCleanup(down);
  try {
    const port = spec.expressPort ?? 7400;
    const hosts = [...o.senders, o.receiver];
    for (const host of hosts) {
      const a = state.plan.addresses.find((x) => x.host === host)!;
      const cfg: InterferencePeerConfig = {
        testbed: name,
        host,
        engine: o.engine,
        receive: o.receive,
        ...(o.fifoPriority !== undefined ? { fifoPriority: o.fifoPriority } : {}),
        maxSpinUs: o.maxSpinUs ?? SHARED_CPU_MAX_SPIN_US,
        // Only the receiver's: the late frames are late there (outlierCauses), and every backup
        // thread costs 10,000 wake-ups a second on CPUs the hosts share.
        ...(o.backup && o.engine === 'native' && host === o.receiver
          ? { ...backupCores(0, cpus().length), backupReadUs: o.backupReadUs ?? DEFAULT_BACKUP_READ_US }
          : {}),
        address: a.address,
        port,
        capacity: Math.ceil(((o.maxSeconds + 2) * 1e9) / o.periodNs) + 1000,
        sampleDir,
      };
      // The receiver's only. Every host's (each drains its own calibration lane) was tried: with
      // three processes' every thread at SCHED_FIFO 5 on two vCPUs, the receiver's JS thread went
      // 10 s without a reply in 2 of 3 runs (docs/benchmarks.md, tenth session).
      const appFifo = host === o.receiver ? o.appFifoPriority : undefined;
      peers.push(await startPeer(a.ns, host, cfg, appFifo));
    }
    const byHost = new Map(hosts.map((h, i) => [h, peers[i]!]));
    const receiver = byHost.get(o.receiver)!;
    const a = await allocation(byHost);
    alloc = a;
    // Receivers first: a lane's first frame must find its receiver (the agents' safe order too).
    await receiver.request({ op: 'configure', ...specsFor(o.receiver, state.plan, a, o, port) }, 10_000);
    for (const s of o.senders) {
      // The js engine cannot set IP_TOS: mark its frames in the kernel, as the agent does, or the
      // switch ports would carry them as best effort and the express mode would measure nothing.
      if (o.engine === 'js') {
        const ns = state.plan.addresses.find((x) => x.host === s)!.ns;
        await new DscpMarker(execNftRunner({ netns: ns })).reconcile(
          desiredMarking(a.grants.get(s) ?? [], s, spec.expressDscp),
        );
      }
      await byHost.get(s)!.request({ op: 'configure', ...specsFor(s, state.plan, a, o, port) }, 10_000);
    }
    // Long enough for the longest recording; they are stopped when it ends.
    const total = WARMUP_SEC + o.maxSeconds + 1;
    const feeds = o.senders.map((s) =>
      byHost
        .get(s)!
        .request(
          { op: 'feed', mode: o.feed, seconds: total, payloadBytes: o.payloadBytes },
          (total + 30) * 1000,
        ),
    );
    // One bulk TCP flow from every sender to the receiver: together they saturate its switch port.
    const bulk: Promise<CrossTrafficResult>[] =
      mode === 'idle'
        ? []
        : o.senders.map((s, i) =>
            runCrossTraffic(state, {
              from: s,
              to: o.receiver,
              kind: 'tcp',
              seconds: total,
              port: 5201 + i,
              streams: o.bulkStreams,
              ...(o.bulkCpu !== undefined ? { cpu: o.bulkCpu } : {}),
              intervalSec: BULK_INTERVAL_SEC,
              signal: bulkAbort.signal,
              stop: bulkStop.signal,
            }),
          );
    // Awaited below; on an early failure or Ctrl-C they reject when the teardown kills them.
    for (const p of [...feeds, ...bulk]) p.catch(() => {});
    progress('warmup', 0);
    await sleep(WARMUP_SEC * 1000);
    await receiver.request({ op: 'record' }, 10_000);
    const cpuAtStart = readCpuTimes();
    const startedAt = new Date().toISOString();
    const t0 = Date.now();
    let counts: number[] = [];
    let elapsedSec = 0;
    while (keepRecording(elapsedSec, counts, o)) {
      const untilMs = (elapsedSec < o.seconds ? o.seconds : o.maxSeconds) * 1000;
      await sleep(Math.min(PROGRESS_MS, untilMs - (Date.now() - t0)));
      const p = await receiver.request({ op: 'progress' }, 10_000);
      counts = p.lanes.map((l) => l.count);
      elapsedSec = (Date.now() - t0) / 1000;
      expectSec = expectedRecordingSec(elapsedSec, counts, o);
      progress('recording', elapsedSec, p.lanes);
    }
    const cpu = cpuShares(cpuAtStart, readCpuTimes());
    // The receiver stops recording as it takes 'collect' in (writing the samples can take a while).
    const recordedSec = (Date.now() - t0) / 1000;
    const collected = await receiver.request({ op: 'collect', tag: mode }, 30_000);
    bulkStop.abort();
    for (const s of o.senders) await byHost.get(s)!.request({ op: 'feed-stop' }, 10_000);
    progress('analysing', recordedSec);
    const bulkResults = await Promise.all(bulk);
    await Promise.all(feeds);
    const lanes = collected.lanes.map((rec) => {
      const w = a.windows.get(rec.lane);
      if (!w) throw new XlaneError('XL_ERR_INTERNAL', `recorded an unknown lane ${rec.lane}`);
      const buf = readFileSync(rec.file);
      const n = rec.count;
      const copy = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n * 24));
      const receivedNs = copy.subarray(0, n);
      const latencyNs = copy.subarray(n, 2 * n);
      const kernelLatencyNs = copy.subarray(2 * n, 3 * n);
      return analyseLane(w, {
        receivedNs,
        latencyNs,
        kernelLatencyNs,
        count: n,
        lost: rec.lost,
        startNs: receivedNs[0] ?? 0,
      });
    });
    for (const p of peers) await p.request({ op: 'stop' }, 10_000).catch(() => undefined);
    const expressPackets = bottleneckExpressPackets(state.plan, o.receiver);
    const bottleneck = bottleneckPort(state.plan, o.receiver);
    progress('done', recordedSec);
    // The flows' clock starts with the warm-up (they are started just before it).
    const flows = bulkResults.map((r) => r.intervals);
    const died = bulkResults.flatMap((r) => (r.clientDied ? [`${r.from}→${r.to}: ${r.clientDied}`] : []));
    return {
      mode,
      ...(died.length > 0 ? { bulkClientDied: died } : {}),
      bulkMbps: bulkMbpsIn(flows, WARMUP_SEC, WARMUP_SEC + recordedSec),
      ...(bottleneck ? { linkMbps: bottleneck.rateBps / 1e6 } : {}),
      ...(Number.isFinite(cpu.busy) ? { cpuShare: cpu } : {}),
      lanes,
      seconds: Math.round(recordedSec * 10) / 10,
      startedAt,
      bulk: bulkSeries(flows, WARMUP_SEC, BULK_INTERVAL_SEC),
      engine: {
        engine: o.engine,
        ...(o.engine === 'native' ? { receive: o.receive } : {}),
        ...(o.fifoPriority !== undefined ? { fifoPriority: o.fifoPriority } : {}),
        ...(o.backup && o.engine === 'native'
          ? { receiverBackupReadUs: o.backupReadUs ?? DEFAULT_BACKUP_READ_US }
          : {}),
        feed: o.feed,
      },
      ...(expressPackets !== undefined ? { bottleneckExpressPackets: expressPackets } : {}),
      ...(collected.stats
        ? {
            receiverEngine: {
              ringFullWaits: collected.stats.ringFullWaits,
              backupReads: collected.stats.backupReads,
            },
          }
        : {}),
    };
  } finally {
    down();
  }
}

/** The switch port facing `receiver`: the bulk flows and the lanes all leave through it. */
function bottleneckPort(plan: TestbedPlan, receiver: string) {
  return plan.ports.find((p) => p.peer === receiver && p.node !== receiver);
}

/** What the express class of the switch port facing `receiver` has sent (tc -s), if it has one. */
function bottleneckExpressPackets(plan: TestbedPlan, receiver: string): number | undefined {
  const port = bottleneckPort(plan, receiver);
  const classid = port?.expressFilter?.flowid;
  if (!port || !classid) return undefined;
  const text = execFileSync('tc', ['-n', port.ns, '-s', 'class', 'show', 'dev', port.ifname], {
    encoding: 'utf8',
  });
  return classSentPackets(text, classid);
}

async function startPeer(
  ns: string,
  host: string,
  cfg: InterferencePeerConfig,
  appFifo?: number,
): Promise<Peer> {
  const { argv, cwd } = peerCommand('interference-peer');
  // The whole process starts under SCHED_FIFO; its engine thread then sets its own priority.
  const rt = appFifo !== undefined ? ['chrt', '-f', String(appFifo)] : [];
  const child = spawn('ip', ['netns', 'exec', ns, ...rt, ...argv, JSON.stringify(cfg)], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const peer: Peer = new PeerProcess(host, child);
  try {
    await peer.next('ready', 60_000);
  } catch (err) {
    peer.kill();
    throw err;
  }
  return peer;
}
