// What the bench orchestrator (engine.ts) and its two peer processes (engine-peer.ts) say to each
// other: the peer's configuration as one JSON argument, then one JSON object per line — requests on
// the peer's stdin, replies on its stdout.
import type { SpinReport, SpinSetting } from '../engine/spin-setting.js';
import type { LatencySummaryUs } from './engine-stats.js';

export type BenchEngineKind = 'js' | 'native';

export interface PeerConfig {
  /** The testbed's name prefix: shows in the peer's command line, so its processes can be found. */
  testbed: string;
  engine: BenchEngineKind;
  /** A drives the ping-pong and the periodic lane; B echoes and records the periodic lane. */
  role: 'a' | 'b';
  /** This peer's address on the bridge and the other peer's. */
  address: string;
  peerAddress: string;
  /** Port of the lane engine and of the plain dgram socket, the same on both peers. */
  enginePort: number;
  dgramPort: number;
  /** π_min of the ping-pong lanes: small enough that pacing never holds a reply back. */
  pingPeriodNs: number;
  /** π of the periodic lane, and E of its grant (engine/schedule.ts). */
  pacingPeriodNs: number;
  pacingReleaseJitterNs: number;
  /** Phase of the periodic lane (SenderSpec.phaseNs, a residue of CLOCK_MONOTONIC); absent: none. */
  pacingPhaseNs?: number;
  /** Who fills the periodic lane: the engine's own heartbeat clock (a frame at every boundary, as
   * a time-triggered lane runs), or the application refilling a coalescing lane. */
  pacingFeed: PacingFeed;
  /** Message size of every ping, echo and periodic frame payload. */
  payloadBytes: number;
  /** Native engine only: how its thread receives (default busy-poll). */
  receive?: NativeReceiveMode;
  /** SCHED_FIFO priority of the engine's thread (native) or pacing worker (js); unset: SCHED_OTHER. */
  fifoPriority?: number;
  /** Spin margin of the engine's thread (native) or pacing worker (js) before a boundary, µs, or
   * 'auto' (the engines' default). */
  spinUs?: SpinSetting;
  maxSpinUs?: number;
  /** CPU the engine's thread is pinned to (the orchestrator pins the whole peer process there too). */
  core?: number;
  /** Native engine: its backup clock's CPU (--backup: the other peer's). */
  backupCore?: number;
}

export type NativeReceiveMode = 'busy-poll' | 'blocking' | 'poll';
export type PacingFeed = 'heartbeat' | 'refill';

/** Lanes of the bench: A pings B on L1, B echoes on L2, A sends the periodic lane L3 to B. */
export const PING_LANE = 'L1';
export const ECHO_LANE = 'L2';
export const PACE_LANE = 'L3';

export type PeerRequest =
  /** Forgets earlier samples and makes room for `capacity` of each kind. */
  | { op: 'rtReserve'; capacity: number }
  /** One block: `count` more engine round trips, then (with `dgram`) as many plain dgram ones,
   * each after `warmup` unrecorded ones. The orchestrator alternates blocks across engines. */
  | {
      op: 'rtBlock';
      count: number;
      warmup: number;
      /** Skip the engine half (false) or add the dgram half (true). */
      engine?: boolean;
      dgram: boolean;
      maxSeconds: number;
    }
  /** Receive mode 'poll': the peer's thread polls its engine until told to stop (the other peer's
   * engine round trips, the periodic lane's recording), and not otherwise, so the plain dgram
   * baseline measured in between runs on an event loop that is not busy polling. */
  | { op: 'poll'; on: boolean }
  | { op: 'rtSummary' }
  | { op: 'pace'; seconds: number }
  | { op: 'pacingArm'; seconds: number }
  | { op: 'pacingReport' }
  | { op: 'exit' };

export interface RoundTripsReply {
  op: 'rtSummary';
  engineRttUs: LatencySummaryUs;
  dgramRttUs: LatencySummaryUs;
  engineRoundTrips: number;
  dgramRoundTrips: number;
  /** Pings whose reply did not come within the retry time (re-sent with a new id). */
  engineLost: number;
  dgramLost: number;
}

export interface BlockReply {
  op: 'rtBlock';
  engineRecorded: number;
  dgramRecorded: number;
}

export interface PaceReply {
  op: 'pace';
  /** send() calls of the refill loop, and how many of them replaced a waiting message. */
  calls: number;
  coalesced: number;
  /** The longest pause between two refills, and how many pauses were ≥ π (a slot the
   * application, not the engine, may have left empty). */
  maxRefillGapUs: number;
  refillGapsOverPeriod: number;
  sent: number;
  /** The sending engine's own view (LaneCounters): frames it released more than max(E, 10 µs)
   * after they were due, and its largest release delay. */
  lateReleases: number;
  maxReleaseDelayUs: number;
  /** Frames of the periodic lane the sender's backup clock released (0 without one). */
  backupReleases?: number;
  /** The sender's spin margin at the end of the run, and what it was learned from. */
  spin?: SpinReport;
}

export interface PacingReportReply {
  op: 'pacingReport';
  pacingErrUs: LatencySummaryUs;
  frames: number;
  judged: number;
  missedPeriods: number;
  lostFrames: number;
  /** The same, judged only on frames whose lane had a message waiting at the boundary (the
   * engine's own error; see analysePacing), and how many frames the application left late. */
  enginePacingErrUs: LatencySummaryUs;
  engineJudged: number;
  engineMissedPeriods: number;
  appLateFrames: number;
  /** Frames beyond the recording buffer (not judged). */
  overflow: number;
  /** The receiving engine's drop counters (bad or duplicate frames it refused). */
  dropped: Record<string, number>;
}

export type PeerReply =
  | { op: 'ready' }
  | { op: 'rtReserve' }
  | BlockReply
  | RoundTripsReply
  | PaceReply
  | PacingReportReply
  | { op: 'pacingArm' }
  | { op: 'poll' }
  | { op: 'exit' }
  | { op: 'error'; code: string; message: string };
