// `xlane bench engine`: round-trip time and pacing error of lane engines between two network
// namespaces joined by a bridge, next to plain Node dgram (and, for the native engine, the C floor)
// measured in the same run. One peer process per namespace and engine (engine-peer.ts); this file
// builds the testbed, drives the peers in alternating blocks and assembles the result. The
// namespaces and peers are removed in `finally`, and by the testbed's exit hook on Ctrl-C / SIGTERM.
import { availableParallelism, loadavg } from 'node:os';
import { loadNativeAddon } from '../engine/native/addon.js';
import { measureRealtimeOffsetBest } from '../engine/native/select.js';
import { effectivePhaseNs, monotonicPhaseNs, NO_PHASE } from '../engine/schedule.js';
import { type SpinReport, type SpinSetting, spinSettingErrors } from '../engine/spin-setting.js';
import { XlaneError } from '../errors.js';
import { NetnsTestbed } from '../testbed/netns.js';
import { compileFloor, FloorRunner } from './engine-floor.js';
import { PeerProcess } from './engine-peer-process.js';
import type { BenchEngineKind, NativeReceiveMode, PacingFeed, PeerConfig } from './engine-peer-protocol.js';
import { type BenchRatios, benchRatios, type LatencySummaryUs, summarizeNs } from './engine-stats.js';

export interface EngineBenchOptions {
  engine: BenchEngineKind;
  /** Native only: busy-poll (default), blocking, or poll (the peer's own thread polls). */
  receive?: NativeReceiveMode;
  /** CPUs of peer A and peer B (native engine and floor; default 0 and 1). */
  coreA?: number;
  coreB?: number;
  /** Run the native engine threads / the js pacing worker SCHED_FIFO at this priority (1..99). */
  fifoPriority?: number;
  /** Spin margin of the engine thread / js pacing worker before a boundary (µs), or 'auto' (the
   * engines' default: learned from how late their sleeps end). */
  spinUs?: SpinSetting;
  /** With spinUs 'auto' (or none): the most the learned margin may be (µs). */
  maxSpinUs?: number;
  /** Native: the periodic sender's engine gets a backup clock on peer B's CPU (NativeEngineOptions
   * .backupCore), which releases the frames its engine thread is more than 50 µs late for. */
  backup?: boolean;
  roundTrips: number;
  /** Bound on the round-trip phase (all kinds); it stops early rather than run forever. */
  maxSeconds: number;
  pacingSeconds: number;
  /** Default 100 µs, the periodic sender. */
  pacingPeriodUs?: number;
  /** E of the periodic lane's grant (engine/schedule.ts); default DEFAULT_RELEASE_JITTER_US. */
  releaseJitterUs?: number;
  /** Phase of the periodic lane's grant (Grant.phaseNs, on CLOCK_REALTIME), in µs (whole ns),
   * turned into the engine's monotonic phase as an agent does; null: no phase. Default 0 (what the
   * allocator gives a lane that shares its ports with none). Used only with E > 0. */
  phaseUs?: number | null;
  /** Default heartbeat: the engine's own clock emits the periodic lane's frames. */
  pacingFeed?: PacingFeed;
  /** Progress and warnings (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface PacingDetail {
  periodUs: number;
  /** E: frames at most this late keep the lane's grid; errors are measured against the grid. */
  releaseJitterUs: number;
  /** The grant phase (µs, CLOCK_REALTIME) and the monotonic residue the sender used, both null
   * when it used none (no phase, or E = 0). */
  phaseUs: number | null;
  monotonicPhaseUs: number | null;
  /** The sending engine's own counters: frames released more than max(E, 10 µs) after they were
   * due, and the largest release delay (µs) — what an agent exports as metrics. */
  senderLateReleases: number;
  /** The sender's spin margin at the end of the run (µs), and with 'auto' the learned 99.9th
   * percentile of its wake-up lateness it came from. */
  senderSpin?: SpinReport;
  senderMaxReleaseDelayUs: number;
  /** --backup: frames of the periodic lane the sender's backup clock released. */
  backupReleases?: number;
  /** heartbeat: the engine's clock emits every frame; refill: the application keeps a coalescing
   * lane backlogged (refill* and appLateFrames describe it). */
  feed: PacingFeed;
  seconds: number;
  /** Frames the sender's engine released, and those the receiver got. */
  sent: number;
  frames: number;
  judged: number;
  lostFrames: number;
  /** Frames the receiving engine refused, by reason (only reasons that occurred). */
  receiverDropped: Record<string, number>;
  refillCalls: number;
  maxRefillGapUs: number;
  refillGapsOverPeriod: number;
  /** The error of frames whose lane had a message waiting at the boundary: the engine's own
   * (pacingErrUs also holds the application's late refills, appLateFrames of them). */
  engineErrUs: LatencySummaryUs;
  engineJudged: number;
  engineMissedPeriods: number;
  appLateFrames: number;
}

export interface MachineInfo {
  cpus: number;
  loadAvgBefore: number[];
  loadAvgAfter: number[];
}

export interface EngineBenchResult {
  /** The engine that ran (js when native was asked for but is not available). */
  engine: BenchEngineKind;
  /** Native only: how the engine thread received. */
  mode?: NativeReceiveMode;
  rttUs: LatencySummaryUs;
  pacingErrUs: LatencySummaryUs;
  missedPeriods: number;
  roundTrips: number;
  dgramRttUs: LatencySummaryUs;
  /** Native only (issue 4): the minimal C busy-poll ping-pong measured in the same run. */
  floorRttUs?: LatencySummaryUs;
  ratios: BenchRatios;
  requestedEngine: BenchEngineKind;
  dgramRoundTrips: number;
  floorRoundTrips?: number;
  lostRoundTrips: { engine: number; dgram: number; floor?: number };
  /** The time bound ended the round-trip phase before the asked number of round trips. */
  truncated: boolean;
  /** Native only: the CPUs peer A and peer B (process, engine thread, floor client/server) ran on. */
  cores?: { a: number; b: number };
  /** SCHED_FIFO priority of the native engine threads / js pacing worker, when asked for. */
  fifoPriority?: number;
  /** The spin margin asked for (µs or 'auto'); absent: the engine's default ('auto'). */
  spinUs?: SpinSetting;
  maxSpinUs?: number;
  pacing: PacingDetail;
  machine: MachineInfo;
}

/** One engine configuration of a run; each gets its own pair of peer processes and ports. */
export interface BenchSubject {
  engine: BenchEngineKind;
  receive?: NativeReceiveMode;
}

export interface SubjectResult {
  subject: BenchSubject;
  rttUs: LatencySummaryUs;
  roundTrips: number;
  lost: number;
  pacingErrUs: LatencySummaryUs;
  missedPeriods: number;
  pacing: PacingDetail;
}

export interface MeasureResult {
  subjects: SubjectResult[];
  dgram: { rttUs: LatencySummaryUs; roundTrips: number; lost: number };
  floor?: { rttUs: LatencySummaryUs; roundTrips: number; lost: number };
  truncated: boolean;
  cores: { a: number; b: number };
  machine: MachineInfo;
}

const ENGINE_PORT = 7450;
const DGRAM_PORT = 7451;
const FLOOR_PORT = 7449;
/** Each subject's peers use ports ENGINE_PORT + PORT_STRIDE × index. */
const PORT_STRIDE = 10;
const PAYLOAD_BYTES = 64;
/** π_min of the ping-pong lanes: far below one round trip, so pacing never holds a reply back. */
const PING_PERIOD_NS = 1_000;
/** E of the periodic lane: a frame up to 20 µs late keeps its 100 µs grid (engine/schedule.ts).
 * The same budget examples/testbed-3.yaml declares for its hosts (releaseJitter), which the
 * controller counts in each lane's burst. */
export const DEFAULT_RELEASE_JITTER_US = 20;
const BLOCK_SIZE = 5_000;
/** Extra time a peer gets beyond the phase's own bound before it counts as hung. */
const REPLY_SLACK_MS = 30_000;

function isCore(v: number | undefined): boolean {
  return v === undefined || (Number.isInteger(v) && v >= 0 && v < availableParallelism());
}

export function validateEngineBenchOptions(o: EngineBenchOptions): void {
  const errors: string[] = [];
  if (o.engine !== 'js' && o.engine !== 'native')
    errors.push(`engine must be js or native (got ${o.engine})`);
  if (
    o.receive !== undefined &&
    o.receive !== 'busy-poll' &&
    o.receive !== 'blocking' &&
    o.receive !== 'poll'
  )
    errors.push(`receive must be busy-poll, blocking or poll (got ${o.receive})`);
  if (!isCore(o.coreA) || !isCore(o.coreB))
    errors.push(`cores must be CPU numbers 0..${availableParallelism() - 1}`);
  if (
    o.fifoPriority !== undefined &&
    !(Number.isInteger(o.fifoPriority) && o.fifoPriority >= 1 && o.fifoPriority <= 99)
  )
    errors.push(`fifo priority must be 1..99 (got ${o.fifoPriority})`);
  errors.push(...spinSettingErrors(o.spinUs, o.maxSpinUs));
  if (!Number.isInteger(o.roundTrips) || o.roundTrips < 1)
    errors.push('round trips must be a whole number ≥ 1');
  if (!(o.maxSeconds > 0)) errors.push('max seconds must be > 0');
  if (!(o.pacingSeconds > 0)) errors.push('pacing seconds must be > 0');
  const period = o.pacingPeriodUs ?? 100;
  if (!(period >= 1)) errors.push('pacing period must be ≥ 1 µs');
  const jitter = o.releaseJitterUs ?? DEFAULT_RELEASE_JITTER_US;
  if (!(jitter >= 0 && jitter < period))
    errors.push('release jitter must be ≥ 0 and below the pacing period');
  const phase = o.phaseUs ?? null;
  if (phase !== null && !(phase >= 0 && phase < period))
    errors.push('phase must be ≥ 0 and below the pacing period');
  if (errors.length)
    throw new XlaneError('XL_ERR_VALIDATION', `bench engine: ${errors.join('; ')}`, {
      errors: errors.map((message) => ({ path: 'options', message })),
    });
}

/** Why the native engine cannot run here, or undefined when it can. */
export function nativeUnavailable(): string | undefined {
  const load = loadNativeAddon();
  return load.ok ? undefined : load.reason;
}

export const subjectName = (s: BenchSubject) =>
  s.engine === 'native' ? `native ${s.receive ?? 'busy-poll'}` : s.engine;

const loadNow = () => loadavg().map((v) => Math.round(v * 100) / 100);

/**
 * Measures `subjects` (each with its own peer pair), plain dgram (over the first pair's sockets)
 * and, with `floor`, the C reference, in blocks taken in turn, then each subject's pacing.
 */
export async function measureEngines(
  subjects: BenchSubject[],
  o: Omit<EngineBenchOptions, 'engine' | 'receive'> & { floor: boolean },
): Promise<MeasureResult> {
  const log = o.log ?? (() => {});
  const periodNs = Math.round((o.pacingPeriodUs ?? 100) * 1000);
  const releaseJitterNs = Math.round((o.releaseJitterUs ?? DEFAULT_RELEASE_JITTER_US) * 1000);
  const grantPhaseNs = o.phaseUs === null ? undefined : Math.round((o.phaseUs ?? 0) * 1000);
  // As an agent converts a grant's phase. (Taken as a monotonic phase, 0 would tie the boundaries
  // to the kernel's tick, which fires on multiples of its period in CLOCK_MONOTONIC; a grant's
  // realtime phase has no such tie.)
  const phaseNs =
    grantPhaseNs === undefined
      ? undefined
      : monotonicPhaseNs(grantPhaseNs, periodNs, measureRealtimeOffsetBest().offsetNs);
  const usedPhaseNs = effectivePhaseNs(phaseNs, releaseJitterNs);
  const cores = { a: o.coreA ?? 0, b: o.coreB ?? Math.min(1, availableParallelism() - 1) };
  const loadAvgBefore = loadNow();
  // Compiled before any namespace exists: a missing compiler is reported with nothing to undo.
  const floorBinary = o.floor ? compileFloor() : undefined;
  const tb = NetnsTestbed.create({ hosts: ['a', 'b'] });
  const started: PeerProcess[] = [];
  try {
    const [a, b] = [tb.host('a'), tb.host('b')];
    const pairs: { pa: PeerProcess; pb: PeerProcess }[] = [];
    for (const [i, s] of subjects.entries()) {
      // The native engine and the floor are pinned, one peer per CPU; the js engine runs as the
      // agent runs it (its pacing worker spins and must not share one CPU with its main thread).
      const pinned = s.engine === 'native';
      const base = {
        testbed: tb.prefix,
        engine: s.engine,
        ...(s.receive ? { receive: s.receive } : {}),
        ...(o.fifoPriority !== undefined ? { fifoPriority: o.fifoPriority } : {}),
        ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
        ...(o.maxSpinUs !== undefined ? { maxSpinUs: o.maxSpinUs } : {}),
        enginePort: ENGINE_PORT + PORT_STRIDE * i,
        dgramPort: DGRAM_PORT + PORT_STRIDE * i,
        pingPeriodNs: PING_PERIOD_NS,
        pacingPeriodNs: periodNs,
        pacingReleaseJitterNs: releaseJitterNs,
        ...(phaseNs !== undefined ? { pacingPhaseNs: phaseNs } : {}),
        pacingFeed: o.pacingFeed ?? 'heartbeat',
        payloadBytes: PAYLOAD_BYTES,
      };
      const cfgA: PeerConfig = {
        ...base,
        role: 'a',
        address: a.address,
        peerAddress: b.address,
        ...(pinned ? { core: cores.a } : {}),
        ...(pinned && o.backup ? { backupCore: cores.b } : {}),
      };
      const cfgB: PeerConfig = {
        ...base,
        role: 'b',
        address: b.address,
        peerAddress: a.address,
        ...(pinned ? { core: cores.b } : {}),
      };
      const [pa, pb] = await Promise.all([
        PeerProcess.start(tb, a.ns, `a/${subjectName(s)}`, cfgA, pinned ? cores.a : undefined),
        PeerProcess.start(tb, b.ns, `b/${subjectName(s)}`, cfgB, pinned ? cores.b : undefined),
      ]);
      started.push(pa, pb);
      pairs.push({ pa, pb });
    }
    const floor = floorBinary
      ? new FloorRunner({
          binary: floorBinary.binary,
          tb,
          client: { ns: a.ns, address: a.address, cpu: cores.a },
          server: { ns: b.ns, address: b.address, cpu: cores.b },
          port: FLOOR_PORT,
          payloadBytes: PAYLOAD_BYTES,
        })
      : undefined;

    const n = o.roundTrips;
    const warmup = Math.min(1000, Math.ceil(n / 10));
    log(
      `round trips: ${n} × (${[...subjects.map(subjectName), 'dgram', ...(floor ? ['C floor'] : [])].join(', ')}), ` +
        `blocks of ${BLOCK_SIZE}, ${a.address} ⇄ ${b.address}`,
    );
    for (const { pa } of pairs) await pa.request({ op: 'rtReserve', capacity: n }, REPLY_SLACK_MS);
    floor?.reserve(n);
    const recorded = pairs.map(() => 0);
    let dgramRecorded = 0;
    const deadline = Date.now() + o.maxSeconds * 1000;
    let first = true;
    const left = () => Math.max(0.001, (deadline - Date.now()) / 1000);
    while (Date.now() < deadline) {
      let more = false;
      for (const [i, { pa, pb }] of pairs.entries()) {
        const done = i === 0 ? Math.min(recorded[i]!, dgramRecorded) : recorded[i]!;
        if (done >= n) continue;
        const block = (engine: boolean, dgram: boolean) =>
          pa.request(
            {
              op: 'rtBlock',
              count: Math.min(BLOCK_SIZE, n - done),
              warmup: first ? warmup : 0,
              engine,
              dgram,
              maxSeconds: left(),
            },
            left() * 1000 + REPLY_SLACK_MS,
          );
        let r: Awaited<ReturnType<typeof block>>;
        if (subjects[i]!.receive === 'poll') {
          // B polls only while A's engine pings are in flight (see the 'poll' request).
          await pb.request({ op: 'poll', on: true }, REPLY_SLACK_MS);
          r = await block(true, false);
          await pb.request({ op: 'poll', on: false }, REPLY_SLACK_MS);
          if (i === 0) r = await block(false, true);
        } else r = await block(true, i === 0);
        recorded[i] = r.engineRecorded;
        if (i === 0) dgramRecorded = r.dgramRecorded;
        more = true;
      }
      if (floor && floor.recorded < n) {
        await floor.runBlock(Math.min(BLOCK_SIZE, n - floor.recorded), first ? warmup : 0, left() * 1000);
        more = true;
      }
      first = false;
      if (!more) break;
    }
    const truncated =
      recorded.some((r) => r < n) || dgramRecorded < n || (floor !== undefined && floor.recorded < n);
    if (truncated) log('warning: --max-seconds ended the round trips early');

    const results: SubjectResult[] = [];
    let dgram: MeasureResult['dgram'] | undefined;
    for (const [i, { pa, pb }] of pairs.entries()) {
      const s = subjects[i]!;
      const rt = await pa.request({ op: 'rtSummary' }, REPLY_SLACK_MS);
      if (i === 0) dgram = { rttUs: rt.dgramRttUs, roundTrips: rt.dgramRoundTrips, lost: rt.dgramLost };
      log(
        `pacing (${subjectName(s)}): ${periodNs / 1000} µs periodic lane for ${o.pacingSeconds} s, ` +
          `${o.pacingFeed === 'refill' ? 'refilled by the application' : "frames from the engine's heartbeat clock"}`,
      );
      await pb.request({ op: 'pacingArm', seconds: o.pacingSeconds }, REPLY_SLACK_MS);
      if (s.receive === 'poll') await pb.request({ op: 'poll', on: true }, REPLY_SLACK_MS);
      const pace = await pa.request(
        { op: 'pace', seconds: o.pacingSeconds },
        o.pacingSeconds * 1000 + REPLY_SLACK_MS,
      );
      // The last frames are still on the wire when the sender stops.
      await new Promise((r) => setTimeout(r, 50));
      if (s.receive === 'poll') await pb.request({ op: 'poll', on: false }, REPLY_SLACK_MS);
      const report = await pb.request({ op: 'pacingReport' }, REPLY_SLACK_MS);
      results.push({
        subject: s,
        rttUs: rt.engineRttUs,
        roundTrips: rt.engineRoundTrips,
        lost: rt.engineLost,
        pacingErrUs: report.pacingErrUs,
        missedPeriods: report.missedPeriods,
        pacing: {
          periodUs: periodNs / 1000,
          releaseJitterUs: releaseJitterNs / 1000,
          phaseUs: usedPhaseNs === NO_PHASE ? null : grantPhaseNs! / 1000,
          monotonicPhaseUs: usedPhaseNs === NO_PHASE ? null : usedPhaseNs / 1000,
          senderLateReleases: pace.lateReleases,
          senderMaxReleaseDelayUs: pace.maxReleaseDelayUs,
          ...(s.engine === 'native' && o.backup ? { backupReleases: pace.backupReleases ?? 0 } : {}),
          ...(pace.spin ? { senderSpin: pace.spin } : {}),
          feed: o.pacingFeed ?? 'heartbeat',
          seconds: o.pacingSeconds,
          sent: pace.sent,
          frames: report.frames,
          judged: report.judged,
          lostFrames: report.lostFrames,
          receiverDropped: nonZero(report.dropped),
          refillCalls: pace.calls,
          maxRefillGapUs: pace.maxRefillGapUs,
          refillGapsOverPeriod: pace.refillGapsOverPeriod,
          engineErrUs: report.enginePacingErrUs,
          engineJudged: report.engineJudged,
          engineMissedPeriods: report.engineMissedPeriods,
          appLateFrames: report.appLateFrames,
        },
      });
    }
    await Promise.all(started.map((p) => p.request({ op: 'exit' }, 10_000)));
    return {
      subjects: results,
      dgram: dgram!,
      ...(floor
        ? {
            floor: {
              rttUs: summarizeNs(floor.samplesNs, floor.recorded),
              roundTrips: floor.recorded,
              lost: floor.lost,
            },
          }
        : {}),
      truncated,
      cores,
      machine: { cpus: availableParallelism(), loadAvgBefore, loadAvgAfter: loadNow() },
    };
  } finally {
    tb.destroy();
    floorBinary?.cleanup();
  }
}

export async function runEngineBench(o: EngineBenchOptions): Promise<EngineBenchResult> {
  validateEngineBenchOptions(o);
  const log = o.log ?? (() => {});
  let engine = o.engine;
  if (engine === 'native') {
    const why = nativeUnavailable();
    if (why) {
      // Like the agent: fall back loudly, and say in the output which engine ran.
      log(`warning: the native engine is not available (${why}): measuring the js engine instead`);
      engine = 'js';
    }
  }
  const native = engine === 'native';
  const subject: BenchSubject = native ? { engine, receive: o.receive ?? 'busy-poll' } : { engine };
  const m = await measureEngines([subject], { ...o, floor: native });
  const s = m.subjects[0]!;
  return {
    engine,
    ...(native ? { mode: subject.receive! } : {}),
    rttUs: s.rttUs,
    pacingErrUs: s.pacingErrUs,
    missedPeriods: s.missedPeriods,
    roundTrips: s.roundTrips,
    dgramRttUs: m.dgram.rttUs,
    ...(m.floor ? { floorRttUs: m.floor.rttUs } : {}),
    ratios: benchRatios(s.rttUs, m.dgram.rttUs, m.floor?.rttUs),
    requestedEngine: o.engine,
    dgramRoundTrips: m.dgram.roundTrips,
    ...(m.floor ? { floorRoundTrips: m.floor.roundTrips } : {}),
    lostRoundTrips: {
      engine: s.lost,
      dgram: m.dgram.lost,
      ...(m.floor ? { floor: m.floor.lost } : {}),
    },
    truncated: m.truncated,
    ...(native ? { cores: m.cores } : {}),
    ...(o.fifoPriority !== undefined ? { fifoPriority: o.fifoPriority } : {}),
    ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
    ...(o.maxSpinUs !== undefined ? { maxSpinUs: o.maxSpinUs } : {}),
    pacing: s.pacing,
    machine: m.machine,
  };
}

function nonZero(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}
