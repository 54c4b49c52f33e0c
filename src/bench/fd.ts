// `xlane bench fd`: X-FD against crashes on the namespace testbed, with φ-accrual and a plain fixed
// timeout measured in the same run. It builds the topology as a testbed (HTB express/best-effort on
// every port), has a real controller grant one FD lane per member (fd-setup.ts), runs one process
// per member (fd-peer.ts: an embedded engine that heartbeats and watches, φ-accrual on the same
// heartbeats, a plain dgram heartbeat), saturates every egress port with bulk TCP (fd-bulk.ts), and
// injects crashes: SIGKILL of one member's process (fd-crash.ts), then a restart as a new
// incarnation. fd-score.ts judges every detector's suspicions against the injections. Everything
// it starts is stopped and every namespace removed, also on failure and Ctrl-C.
import { setMaxListeners } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join, resolve } from 'node:path';
import { ControllerClient } from '../client/controller-client.js';
import { startController } from '../controller/server.js';
import { EXAMPLE_TOPOLOGY } from '../demo/controller-demo.js';
import { monotonicNs } from '../engine/clock.js';
import { XlaneError } from '../errors.js';
import { testbedDown, testbedUp } from '../testbed/lifecycle.js';
import type { TestbedState } from '../testbed/state.js';
import { loadTopologyFile } from '../topology/load.js';
import type { TopologySpec } from '../topology/spec.js';
import { onExitSignal } from '../util/exit-signals.js';
import { cpuShares, readCpuTimes } from './cpu-share.js';
import { type BulkRun, bulkLoop, coverageOf, meanMbps, ringFlows } from './fd-bulk.js';
import { CauseTally, type PairContract } from './fd-causes.js';
import { crash } from './fd-crash.js';
import { heartbeatShare } from './fd-heartbeats.js';
import { DETECTOR_KINDS, type DetectorKind, type FdCollectReply } from './fd-peer-protocol.js';
import { readRows } from './fd-rows.js';
import {
  type DetectorScore,
  DetectorTally,
  type Injection,
  type ObservedSuspicion,
  percentilesUs,
  type ScoreWindow,
} from './fd-score.js';
import {
  type Allocation,
  allocate,
  calibrate,
  configure,
  type Member,
  peerConfig,
  startPeer,
  waitAlive,
} from './fd-setup.js';
import type { DetectorSummary, FdBenchOptions, FdBenchOutput, FdBenchRecord } from './fd-types.js';
import { mulberry32 } from './prng.js';

const BENCH_NAME_PREFIX = 'xfd';
/** A restarted member heartbeats at least this long before the next crash. */
const MIN_ALIVE_MS = 1000;
const RECORD_SAMPLE_CAP = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const round2 = (v: number) => Math.round(v * 100) / 100;
const round3 = (v: number) => Math.round(v * 1000) / 1000;

export function defaultFdBenchOptions(): Omit<FdBenchOptions, 'command' | 'engine'> {
  return {
    // The shipped example, not one under the working directory: `xlane demo` runs from anywhere.
    topologyFile: EXAMPLE_TOPOLOGY,
    runsDir: 'runs',
    members: ['h1', 'h2', 'h3'],
    periodNs: 100_000,
    minutes: 5,
    injections: 50,
    receive: 'blocking',
    bulk: 'ring',
    bulkStreams: 1,
    hostBounds: 'declared',
    calibrateSeconds: 5,
    baselines: true,
    phiThreshold: 8,
    phiPauseNs: 0,
    phiMinStdNs: 10_000,
    warmupSeconds: 2,
    seed: 1,
  };
}

export function validateFdBench(o: FdBenchOptions, spec: TopologySpec): void {
  const hosts = new Set(spec.hosts.map((h) => h.name));
  const bad: string[] = [];
  for (const h of o.members) if (!hosts.has(h)) bad.push(`unknown host ${h}`);
  if (new Set(o.members).size !== o.members.length) bad.push('a member is listed twice');
  if (o.members.length < 2) bad.push('at least two members');
  if (!(o.minutes > 0 && o.minutes <= 120)) bad.push('minutes must be in (0, 120]');
  if (!(Number.isInteger(o.injections) && o.injections >= 1 && o.injections <= 10_000))
    bad.push('injections must be 1..10000');
  if (!(o.periodNs >= 10_000 && o.periodNs <= 1e9)) bad.push('period must be in [10 µs, 1 s]');
  if (!(o.phiThreshold > 0)) bad.push('the φ threshold must be > 0');
  if (!(o.phiPauseNs >= 0)) bad.push('the φ acceptable pause must be ≥ 0');
  if (!(o.phiMinStdNs > 0)) bad.push('the φ minimum standard deviation must be > 0');
  if (!(Number.isInteger(o.bulkStreams) && o.bulkStreams >= 1 && o.bulkStreams <= 16))
    bad.push('streams must be 1..16');
  if (
    o.fifoPriority !== undefined &&
    !(Number.isInteger(o.fifoPriority) && o.fifoPriority >= 1 && o.fifoPriority <= 98)
  )
    bad.push('the FIFO priority must be 1..98 (99 is the crash injector’s)');
  if (!(o.warmupSeconds >= 0 && o.warmupSeconds <= 60)) bad.push('warm-up must be 0..60 s');
  if (o.backup && o.engine !== 'native') bad.push('a backup clock needs the native engine');
  if (o.backup && cpus().length < 2) bad.push('a backup clock needs a second CPU');
  if (!(o.calibrateSeconds >= 1 && o.calibrateSeconds <= 30)) bad.push('calibration must take 1..30 s');
  if (bad.length > 0) throw new XlaneError('XL_ERR_VALIDATION', bad.join('; '));
}

/** What the member's grant promised `observer` (undefined: no such lane). */
function contractOf(alloc: Allocation, observer: string, member: string): PairContract | undefined {
  const g = alloc.grants.get(observer)?.find((x) => x.sender === member);
  const w = g?.receivers.find((r) => r.host === observer);
  const timeoutNs = alloc.timeouts.get(observer)?.get(member);
  if (!g || !w || timeoutNs === undefined) return undefined;
  return {
    periodNs: g.minPeriodNs,
    releaseJitterNs: g.releaseJitterNs ?? 0,
    lambdaMaxNs: w.lambdaMaxNs,
    timeoutNs,
  };
}

export interface FdBenchResult {
  output: FdBenchOutput;
  record: FdBenchRecord;
  runDir: string;
}

/** What the run accumulates from the members' collects. */
class Observation {
  readonly window: ScoreWindow = { startNs: Number.POSITIVE_INFINITY, endNs: Number.POSITIVE_INFINITY };
  readonly injections: Injection[] = [];
  readonly tallies: Record<DetectorKind, DetectorTally>;
  readonly heartbeats: FdBenchRecord['heartbeats'] = {
    engine: {},
    dgram: {},
    dgramSent: 0,
    dgramMissed: 0,
    backupReleases: 0,
  };
  readonly causes: CauseTally;

  constructor(contractOf: (observer: string, member: string) => PairContract | undefined) {
    this.causes = new CauseTally(contractOf);
    this.tallies = {
      xfd: new DetectorTally(this.window, RECORD_SAMPLE_CAP, (s, spansCrash) => {
        if (!spansCrash) this.causes.add(s);
      }),
      phi: new DetectorTally(this.window, RECORD_SAMPLE_CAP),
      dgram: new DetectorTally(this.window, RECORD_SAMPLE_CAP),
    };
  }

  /** One collect of member `host` (whose watched members are `watched`, in its config's order).
   * `openEndNs`: when the suspicions still running at a final collect end. */
  absorb(host: string, watched: readonly string[], r: FdCollectReply, openEndNs: number): void {
    const bytes = readFileSync(r.file);
    rmSync(r.file, { force: true });
    const batches: Record<DetectorKind, ObservedSuspicion[]> = { xfd: [], phi: [], dgram: [] };
    for (const row of readRows(bytes)) {
      const kind = DETECTOR_KINDS[row.kind];
      const member = watched[row.member];
      if (!kind || member === undefined)
        throw new XlaneError('XL_ERR_INTERNAL', `bad suspicion row from ${host}`);
      batches[kind].push({
        observer: host,
        member,
        startNs: row.startNs,
        endNs: row.endNs < 0 ? openEndNs : row.endNs,
        lastArrivalNs: row.lastArrivalNs,
        ...(kind === 'xfd'
          ? { lastSentNs: row.lastSentNs, endSentNs: row.endSentNs, endArrivalNs: row.endArrivalNs }
          : {}),
      });
    }
    for (const k of DETECTOR_KINDS) this.tallies[k].add(batches[k], this.injections);
    const add = (to: Record<string, Record<string, number>>, from: Record<string, number>) => {
      const row = to[host] ?? {};
      to[host] = row;
      for (const [k, v] of Object.entries(from)) row[k] = (row[k] ?? 0) + v;
    };
    add(this.heartbeats.engine, r.counters.engineHeartbeats);
    add(this.heartbeats.dgram, r.counters.dgramHeartbeats);
    this.heartbeats.dgramSent += r.counters.dgramSent;
    this.heartbeats.dgramMissed += r.counters.dgramMissed;
    this.heartbeats.backupReleases += r.counters.backupReleases;
  }
}

export async function runFdBench(o: FdBenchOptions): Promise<FdBenchResult> {
  const spec = loadTopologyFile(o.topologyFile);
  validateFdBench(o, spec);
  const loadBefore = loadavg()[0]!;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = resolve(o.runsDir, `fd-${stamp}`);
  const sampleDir = join(runDir, 'collect');
  mkdirSync(sampleDir, { recursive: true });
  const name = `${BENCH_NAME_PREFIX}-${process.pid}`;
  const members = new Map<string, Member>();
  let up = false;
  // Stops the cross traffic: its iperf3 processes are killed by PID, they would otherwise outlive
  // the namespaces they ran in by up to a segment.
  const bulkStop = new AbortController();
  // Every running iperf3 client and server listens on it (two per flow, more across restarts of a
  // segment): more than Node's default of 10 is expected, not a leak.
  setMaxListeners(64, bulkStop.signal);
  const down = () => {
    bulkStop.abort();
    for (const m of members.values()) m.peer.kill();
    if (up) testbedDown(o.runsDir, name);
    up = false;
  };
  // Ctrl-C or SIGTERM: whatever is up goes down before the process exits.
  const offSignals = onExitSignal(down);
  const controller = await startController({
    topology: spec,
    dbPath: join(runDir, 'xlane.db'),
    listen: '127.0.0.1:0',
    logger: false,
  });
  const client = new ControllerClient({ url: controller.url });
  try {
    const { state } = testbedUp(spec, { name, runsDir: o.runsDir });
    up = true;
    const enginePort = spec.expressPort ?? 7400;
    const cfgOf = (host: string) => peerConfig(o, state, name, host, enginePort, sampleDir);
    for (const host of o.members) {
      const cfg = cfgOf(host);
      const a = state.plan.addresses.find((x) => x.host === host)!;
      members.set(host, {
        host,
        ns: a.ns,
        address: a.address,
        ...(await startPeer(a.ns, cfg)),
        incarnation: 1,
      });
    }
    if (o.hostBounds === 'measure') await calibrate(client, members, o, spec);
    const alloc = await allocate(client, o);
    for (const m of members.values()) await configure(m, alloc, o, state, enginePort);
    for (const m of members.values()) await waitAlive(members, m.host, m.incarnation);
    const run = await observe(o, state, members, alloc, enginePort, cfgOf, bulkStop.signal);
    const loadAfter = loadavg()[0]!;
    rmSync(sampleDir, { recursive: true, force: true });
    return report(o, spec, runDir, alloc, run, { before: loadBefore, after: loadAfter });
  } finally {
    down();
    offSignals();
    await controller.close();
  }
}

interface ObservedRun {
  obs: Observation;
  bulk: BulkRun[];
  notes: string[];
  boostedCrashes: number;
  cpu: { busy: number; steal: number };
}

/** Warm-up, then the observation with its crash injections, under cross traffic. */
async function observe(
  o: FdBenchOptions,
  state: TestbedState,
  members: Map<string, Member>,
  alloc: Allocation,
  enginePort: number,
  cfgOf: (host: string) => ReturnType<typeof peerConfig>,
  bulkStop: AbortSignal,
): Promise<ObservedRun> {
  let observing = true;
  const plannedEndMs = Date.now() + (o.warmupSeconds + o.minutes * 60) * 1000;
  const bulk =
    o.bulk === 'ring'
      ? ringFlows(o.members, 5201).map((f) =>
          bulkLoop(state, f, o.bulkStreams, () => observing, plannedEndMs, bulkStop),
        )
      : [];
  try {
    await sleep(o.warmupSeconds * 1000);
    const obs = new Observation((observer, member) => contractOf(alloc, observer, member));
    const watchedBy = (host: string) => o.members.filter((m) => m !== host);
    const collect = async (m: Member, final: boolean, openEndNs = Number.POSITIVE_INFINITY) =>
      obs.absorb(
        m.host,
        watchedBy(m.host),
        await m.peer.request({ op: 'collect', final }, 30_000),
        openEndNs,
      );
    // What happened before the observation (start-up, warm-up) is not judged.
    for (const m of members.values()) {
      const r = await m.peer.request({ op: 'collect', final: false }, 30_000);
      rmSync(r.file, { force: true });
    }
    obs.window.startNs = monotonicNs();
    const cpuAtStart = readCpuTimes();
    const notes: string[] = [];
    let boostedCrashes = 0;
    const rng = mulberry32(o.seed);
    const slotNs = (o.minutes * 60e9) / o.injections;
    let lastReviveMs = Date.now();
    for (let i = 0; i < o.injections; i++) {
      const victim = members.get(o.members[i % o.members.length]!)!;
      // A random moment in the injection's slot of the observation (at least MIN_ALIVE after the
      // previous restart): the crash falls at any phase of the heartbeat period.
      const targetNs = obs.window.startNs + (i + 0.25 + rng() * 0.5) * slotNs;
      await sleep(Math.max((targetNs - monotonicNs()) / 1e6, lastReviveMs + MIN_ALIVE_MS - Date.now()));
      // Its own observations up to now: it is about to die.
      await collect(victim, true, monotonicNs());
      const exited = new Promise((r) => victim.child.once('exit', r));
      const c = crash(victim.child.pid!);
      if (c.boosted) boostedCrashes++;
      await exited;
      Object.assign(victim, await startPeer(victim.ns, cfgOf(victim.host)));
      victim.incarnation++;
      const reviveNs = monotonicNs();
      await configure(victim, alloc, o, state, enginePort);
      obs.injections.push({
        index: i,
        victim: victim.host,
        crashNs: c.crashNs,
        reviveNs,
        killedNs: c.killedNs,
      });
      const back = await waitAlive(members, victim.host, victim.incarnation).then(
        () => true,
        (err: Error) => {
          notes.push(`injection ${i + 1}: ${err.message}`);
          return false;
        },
      );
      lastReviveMs = Date.now();
      for (const m of members.values()) if (m !== victim) await collect(m, false);
      o.onProgress?.(progressLine(obs, i, o.injections, victim, c.crashNs, reviveNs, back));
    }
    // Timers run on the event loop's cached millisecond clock: wait until the engines' clock agrees.
    const endNs = obs.window.startNs + o.minutes * 60e9;
    while (monotonicNs() < endNs) await sleep(Math.ceil((endNs - monotonicNs()) / 1e6));
    obs.window.endNs = monotonicNs();
    const cpuAtEnd = readCpuTimes();
    for (const m of members.values()) await collect(m, true, obs.window.endNs);
    observing = false;
    for (const m of members.values()) await m.peer.request({ op: 'stop' }, 10_000).catch(() => undefined);
    return {
      obs,
      bulk: await Promise.all(bulk),
      notes,
      boostedCrashes,
      cpu: cpuShares(cpuAtStart, cpuAtEnd),
    };
  } finally {
    observing = false;
    // A failure above must not leave the bulk loops starting new segments.
    await Promise.allSettled(bulk);
  }
}

function summary(s: DetectorScore, measured: boolean): DetectorSummary {
  if (!measured) {
    return {
      detectionUs: percentilesUs([]),
      falsePositives: Number.NaN,
      detections: Number.NaN,
      missed: Number.NaN,
      alreadySuspected: Number.NaN,
    };
  }
  return {
    detectionUs: percentilesUs(s.detections.map((d) => d.detectionNs)),
    falsePositives: s.falsePositives,
    detections: s.detections.length,
    missed: s.missed.length,
    alreadySuspected: s.alreadySuspected.length,
  };
}

function report(
  o: FdBenchOptions,
  spec: TopologySpec,
  runDir: string,
  alloc: Allocation,
  run: ObservedRun,
  load: { before: number; after: number },
): FdBenchResult {
  const { obs, notes } = run;
  const observersOf = (victim: string) => o.members.filter((m) => m !== victim);
  const xfd = obs.tallies.xfd.score(obs.injections, observersOf);
  const phi = obs.tallies.phi.score(obs.injections, observersOf);
  const dgram = obs.tallies.dgram.score(obs.injections, observersOf);
  const toOf = (observer: string, member: string) => alloc.timeouts.get(observer)!.get(member)!;
  const timeoutNs = Math.max(...[...alloc.timeouts.values()].flatMap((m) => [...m.values()]));
  const observedNs = obs.window.endNs - obs.window.startNs;
  // Heartbeats are counted where the baselines tap them; without them there is nothing to divide.
  const shareOf = (received: Record<string, Record<string, number>>) => {
    const share = o.baselines
      ? heartbeatShare(received, o.members, obs.injections, obs.window, o.periodNs)
      : null;
    return share === null ? null : round3(share);
  };
  const x = summary(xfd, true);
  const bulkRows = run.bulk.map((b) => ({
    from: b.from,
    to: b.to,
    segments: b.results.length,
    mbps: round2(meanMbps(b.results)),
    errors: b.errors,
  }));
  const coverage =
    run.bulk.length === 0 ? 0 : Math.min(...run.bulk.map((b) => coverageOf(b.spans, obs.window)));
  const output: FdBenchOutput = {
    heartbeatUs: o.periodNs / 1000,
    timeoutUs: timeoutNs / 1000,
    detectionUs: x.detectionUs,
    falsePositives: x.falsePositives,
    observedMinutes: round2(observedNs / 60e9),
    phiAccrual: {
      ...summary(phi, o.baselines),
      threshold: o.phiThreshold,
      acceptablePauseUs: o.phiPauseNs / 1000,
      minStdDeviationUs: o.phiMinStdNs / 1000,
    },
    fixedTimeout: { ...summary(dgram, o.baselines), timeoutUs: timeoutNs / 1000, transport: 'node-dgram' },
    detections: x.detections,
    missed: x.missed,
    alreadySuspected: x.alreadySuspected,
    slackUs: percentilesUs(xfd.detections.map((d) => d.sinceLastArrivalNs - toOf(d.observer, d.member))),
    crashBracketUs: percentilesUs(obs.injections.map((i) => (i.killedNs ?? i.crashNs) - i.crashNs)),
    injections: obs.injections.length,
    members: o.members,
    engine: o.engine,
    ...(o.engine === 'native' ? { receive: o.receive } : {}),
    ...(o.fifoPriority !== undefined ? { fifoPriority: o.fifoPriority } : {}),
    ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
    ...(o.backup ? { backupReleases: obs.heartbeats.backupReleases } : {}),
    ...(o.engineFallback ? { engineFallback: o.engineFallback } : {}),
    hostBounds: o.hostBounds,
    baselines: o.baselines,
    bulkMbps: bulkRows.length === 0 ? 0 : round2(bulkRows.reduce((a, b) => a + b.mbps, 0) / bulkRows.length),
    bulkCoverage: round3(coverage),
    loadAvg1: { before: round2(load.before), after: round2(load.after) },
    cpuShare: run.cpu,
    heartbeatShare: {
      engine: shareOf(obs.heartbeats.engine),
      dgram: shareOf(obs.heartbeats.dgram),
    },
    falsePositiveCauses: obs.causes.summary(),
    targets: {
      p99WithinTimeoutPlus50us: x.detectionUs.p99 <= timeoutNs / 1000 + 50,
      p99Under1ms: x.detectionUs.p99 <= 1000,
      zeroFalsePositives: x.falsePositives === 0,
      atLeast5Minutes: observedNs >= 5 * 60e9 && (o.bulk === 'none' || coverage >= 0.95),
      atLeast50Injections: obs.injections.length >= 50,
    },
    runDir,
  };
  if (x.missed > 0) notes.push(`X-FD missed ${x.missed} injection × observer pairs.`);
  if (run.boostedCrashes < obs.injections.length)
    notes.push(
      `${obs.injections.length - run.boostedCrashes} crashes were injected without SCHED_FIFO (no chrt or not root): their crash time may be early.`,
    );
  for (const b of bulkRows) for (const e of b.errors) notes.push(`bulk ${b.from}→${b.to}: ${e}`);
  const record: FdBenchRecord = {
    kind: 'xlane-bench-fd',
    version: 1,
    createdAt: new Date().toISOString(),
    command: o.command,
    topology: spec.name,
    machine: { cpus: cpus().length, kernel: release() },
    output,
    timeoutsUs: Object.fromEntries(
      [...alloc.timeouts].map(([obsr, m]) => [
        obsr,
        Object.fromEntries([...m].map(([k, v]) => [k, v / 1000])),
      ]),
    ),
    lanes: alloc.lanes,
    hostBounds: alloc.hostBounds,
    injections: obs.injections,
    xfd: { detections: xfd.detections, falsePositives: xfd.falsePositiveSample },
    phiAccrual: { detections: phi.detections, falsePositives: phi.falsePositiveSample },
    fixedTimeout: { detections: dgram.detections, falsePositives: dgram.falsePositiveSample },
    heartbeats: obs.heartbeats,
    bulk: bulkRows,
    notes,
  };
  // Infinity (a suspicion still running) is written as null.
  const safe = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);
  writeFileSync(join(runDir, 'fd.json'), `${JSON.stringify(record, safe, 1)}\n`);
  return { output, record, runDir };
}

function progressLine(
  obs: Observation,
  i: number,
  n: number,
  victim: Member,
  crashNs: number,
  reviveNs: number,
  back: boolean,
): string {
  const seen = obs.tallies.xfd.detections
    .filter((d) => d.injection === i)
    .map((d) => `${d.observer} +${Math.round(d.detectionNs / 1000)} µs`);
  const fp = (k: DetectorKind) => obs.tallies[k].falsePositives;
  return (
    `injection ${i + 1}/${n}: killed ${victim.host}; X-FD detection ${seen.join(', ') || 'none'}; ` +
    (back
      ? `back as incarnation ${victim.incarnation} after ${((reviveNs - crashNs) / 1e9).toFixed(1)} s`
      : 'NOT back') +
    `; false positives so far X-FD ${fp('xfd')}, φ ${fp('phi')}, dgram ${fp('dgram')}`
  );
}
