// `xlane bench engine`: round-trip time and pacing error of a lane engine between two network
// namespaces joined by a bridge, next to plain Node dgram measured in the same run. One peer process
// per namespace (engine-peer.ts); this file builds the testbed, drives the peers and assembles the
// result. The namespaces and peers are removed in `finally`, and by the testbed's exit hook on
// Ctrl-C / SIGTERM.
import { availableParallelism, loadavg } from 'node:os';
import { XlaneError } from '../errors.js';
import { NetnsTestbed } from '../testbed/netns.js';
import { PeerProcess } from './engine-peer-process.js';
import type { BenchEngineKind, PeerConfig } from './engine-peer-protocol.js';
import { type BenchRatios, benchRatios, type LatencySummaryUs } from './engine-stats.js';

export interface EngineBenchOptions {
  engine: BenchEngineKind;
  roundTrips: number;
  /** Bound on the round-trip phase (both kinds); it stops early rather than run forever. */
  maxSeconds: number;
  pacingSeconds: number;
  /** Default 100 µs, the periodic sender. */
  pacingPeriodUs?: number;
  /** Progress and warnings (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface EngineBenchResult {
  /** The engine that ran (js when native was asked for but is not available). */
  engine: BenchEngineKind;
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
  lostRoundTrips: { engine: number; dgram: number };
  /** The time bound ended the round-trip phase before the asked number of round trips. */
  truncated: boolean;
  pacing: {
    periodUs: number;
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
  };
  machine: { cpus: number; loadAvgBefore: number[]; loadAvgAfter: number[] };
}

const ENGINE_PORT = 7450;
const DGRAM_PORT = 7451;
const PAYLOAD_BYTES = 64;
/** π_min of the ping-pong lanes: far below one round trip, so pacing never holds a reply back. */
const PING_PERIOD_NS = 1_000;
/** Extra time a peer gets beyond the phase's own bound before it counts as hung. */
const REPLY_SLACK_MS = 30_000;

export function validateEngineBenchOptions(o: EngineBenchOptions): void {
  const errors: string[] = [];
  if (o.engine !== 'js' && o.engine !== 'native')
    errors.push(`engine must be js or native (got ${o.engine})`);
  if (!Number.isInteger(o.roundTrips) || o.roundTrips < 1)
    errors.push('round trips must be a whole number ≥ 1');
  if (!(o.maxSeconds > 0)) errors.push('max seconds must be > 0');
  if (!(o.pacingSeconds > 0)) errors.push('pacing seconds must be > 0');
  const period = o.pacingPeriodUs ?? 100;
  if (!(period >= 1)) errors.push('pacing period must be ≥ 1 µs');
  if (errors.length)
    throw new XlaneError('XL_ERR_VALIDATION', `bench engine: ${errors.join('; ')}`, {
      errors: errors.map((message) => ({ path: 'options', message })),
    });
}

export async function runEngineBench(o: EngineBenchOptions): Promise<EngineBenchResult> {
  validateEngineBenchOptions(o);
  const log = o.log ?? (() => {});
  let engine = o.engine;
  if (engine === 'native') {
    // The native engine (issue 4) is not in this tree yet; like the agent, fall back loudly.
    log('warning: the native engine is not available: measuring the js engine instead');
    engine = 'js';
  }
  const periodNs = Math.round((o.pacingPeriodUs ?? 100) * 1000);
  const loadAvgBefore = loadavg().map((v) => Math.round(v * 100) / 100);
  const tb = NetnsTestbed.create({ hosts: ['a', 'b'] });
  try {
    const [a, b] = [tb.host('a'), tb.host('b')];
    const base = {
      testbed: tb.prefix,
      engine,
      enginePort: ENGINE_PORT,
      dgramPort: DGRAM_PORT,
      pingPeriodNs: PING_PERIOD_NS,
      pacingPeriodNs: periodNs,
      payloadBytes: PAYLOAD_BYTES,
    };
    const cfgA: PeerConfig = { ...base, role: 'a', address: a.address, peerAddress: b.address };
    const cfgB: PeerConfig = { ...base, role: 'b', address: b.address, peerAddress: a.address };
    const [pa, pb] = await Promise.all([
      PeerProcess.start(tb, a.ns, 'a', cfgA),
      PeerProcess.start(tb, b.ns, 'b', cfgB),
    ]);

    log(`round trips: ${o.roundTrips} × (${engine} engine, plain dgram), ${a.address} ⇄ ${b.address}`);
    const rt = await pa.request(
      {
        op: 'roundTrips',
        count: o.roundTrips,
        warmup: Math.min(1000, Math.ceil(o.roundTrips / 10)),
        blockSize: 5000,
        maxSeconds: o.maxSeconds,
      },
      o.maxSeconds * 1000 + REPLY_SLACK_MS,
    );
    if (rt.truncated) log(`warning: --max-seconds ended the round trips early`);

    log(`pacing: ${periodNs / 1000} µs periodic lane for ${o.pacingSeconds} s`);
    await pb.request({ op: 'pacingArm', seconds: o.pacingSeconds }, REPLY_SLACK_MS);
    const pace = await pa.request(
      { op: 'pace', seconds: o.pacingSeconds },
      o.pacingSeconds * 1000 + REPLY_SLACK_MS,
    );
    // The last frames are still on the wire when the sender stops.
    await new Promise((r) => setTimeout(r, 50));
    const report = await pb.request({ op: 'pacingReport' }, REPLY_SLACK_MS);
    await Promise.all([pa.request({ op: 'exit' }, 10_000), pb.request({ op: 'exit' }, 10_000)]);

    return {
      engine,
      rttUs: rt.engineRttUs,
      pacingErrUs: report.pacingErrUs,
      missedPeriods: report.missedPeriods,
      roundTrips: rt.engineRoundTrips,
      dgramRttUs: rt.dgramRttUs,
      ratios: benchRatios(rt.engineRttUs, rt.dgramRttUs),
      requestedEngine: o.engine,
      dgramRoundTrips: rt.dgramRoundTrips,
      lostRoundTrips: { engine: rt.engineLost, dgram: rt.dgramLost },
      truncated: rt.truncated,
      pacing: {
        periodUs: periodNs / 1000,
        seconds: o.pacingSeconds,
        sent: pace.sent,
        frames: report.frames,
        judged: report.judged,
        lostFrames: report.lostFrames,
        receiverDropped: nonZero(report.dropped),
        refillCalls: pace.calls,
        maxRefillGapUs: pace.maxRefillGapUs,
        refillGapsOverPeriod: pace.refillGapsOverPeriod,
      },
      machine: {
        cpus: availableParallelism(),
        loadAvgBefore,
        loadAvgAfter: loadavg().map((v) => Math.round(v * 100) / 100),
      },
    };
  } finally {
    tb.destroy();
  }
}

function nonZero(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}
