// What `xlane bench interference` measures and writes to its run folder (RUN_DIR/interference.json),
// and what `xlane report RUN_DIR` draws. One contract between the bench and the report.
import type { CpuShare } from './cpu-share.js';
import type { InterferenceTargets } from './interference-targets.js';

export type InterferenceMode = 'idle' | 'express' | 'fifo';

/** Latency percentiles of one lane in one run, µs (one-way, engine send → engine receive). */
export interface LaneLatencySummary {
  lane: string;
  /** Lane name from the request, e.g. "h1-h2". */
  name: string;
  from: string;
  to: string;
  periodNs: number;
  payloadBytes: number;
  /** The promised window for this receiver: λ_min and λ_max (= boundUs), µs. */
  lambdaMinUs: number;
  boundUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  /** p99.99: the tightest λ_max that would have kept 99.99 % of the messages within (absent in
   * older records). */
  p9999Us?: number;
  maxUs: number;
  /** Fraction of delivered messages with λ_min ≤ latency ≤ λ_max. */
  withinBound: number;
  /** Messages delivered (and measured). */
  messages: number;
  /** Sequence gaps that never filled. */
  lost: number;
  /** The share of its contract's periods in which the lane's sender released a frame while it
   * recorded: (messages + lost) ÷ the periods between its first and last sender stamp, 1 = one
   * frame every π_min. A sender more than E late at a boundary gives up the delay beyond E, and
   * regaining the grant's phase costs about a period more (docs/protocol.md), so a host whose
   * wake-ups come late sends less than its contract allows. NaN below 2 messages; absent in
   * older records. */
  sendRate?: number;
  /** Messages outside [λ_min, λ_max]. */
  outliers: number;
  /** Where the outliers' time went (absent in older records). */
  outlierCauses?: OutlierCauses;
  /** λ_max ÷ measured p99.9: how much slack the promise has (1 = exact, ≥ 1 is kept). */
  tightness: number;
  /** p99.99 ÷ p99.9: the tightness of the tightest λ_max that keeps 99.99 % within on this run.
   * Above 5 no promise could have met both issue-5 targets (tightness ≤ 5, ≥ 99.99 % within).
   * Absent in older records. */
  tightnessFloor?: number;
}

/** The outliers of a lane split by where they lost their time, from the receiving kernel's stamp. */
export interface OutlierCauses {
  /** Below λ_min. */
  early: number;
  /** Above λ_max: the sum of the three below. */
  late: number;
  /** The receiving kernel had it within λ_max: late in the receiving host only. */
  lateInReceiver: number;
  /** The receiving kernel had it after λ_max: late in the sender's host or the network. */
  lateOnArrival: number;
  /** No kernel stamp (the js engine). */
  lateUnknown: number;
}

/** Everything a run folder keeps of one lane: the summary plus the curves the report draws. */
export interface LaneLatencyDetail extends LaneLatencySummary {
  /** Empirical CDF, latency ascending, ≤ ~300 points spaced evenly on a log axis. */
  cdf: { latencyUs: number; fraction: number }[];
  /** One point per window (≈100 ms) of the run: seconds since the run started. */
  series: { tSec: number; p50Us: number; p99Us: number; maxUs: number; messages: number }[];
  /** The first outliers (≤ 100), when they happened and how late/early. */
  firstOutliers: { tSec: number; latencyUs: number }[];
}

export interface BulkSample {
  tSec: number;
  mbps: number;
}

export interface InterferenceRunSummary {
  mode: InterferenceMode;
  /** The bulk cross traffic's rate during the recording (0 when idle): iperf3's intervals, summed
   * over the flows, averaged over those inside the recording. Sender side, TCP: the receiver's
   * goodput differs only by the bytes in flight. (Older records: goodput over the whole flow.) */
  bulkMbps: number;
  /** Rate of the bottleneck: the switch port facing the lanes' receiver (absent in older records). */
  linkMbps?: number;
  /** The machine's CPU during the recording: busy and stolen shares (absent in older records). */
  cpuShare?: CpuShare;
  lanes: LaneLatencySummary[];
}

export interface InterferenceRunDetail extends Omit<InterferenceRunSummary, 'lanes'> {
  lanes: LaneLatencyDetail[];
  seconds: number;
  startedAt: string;
  /** iperf3's per-interval goodput (s since the run started); empty when idle. */
  bulk: BulkSample[];
  /** Bulk flows whose iperf3 client died when stopped (testbed/traffic.ts CrossTrafficResult.clientDied):
   * their figures are the server's interval lines. Absent when none did. */
  bulkClientDied?: string[];
  /** How the engines ran, e.g. { engine: 'native', receive: 'blocking', fifoPriority: 10 }. */
  engine: Record<string, string | number | boolean>;
  /** Packets the express class of the receiver's switch port carried during the mode (warm-up
   * included); absent with --fifo (no such class). At least the lanes' frames, when they carry
   * the express DSCP. */
  bottleneckExpressPackets?: number;
  /** The receiving host's native engine during the recording (absent for the js engine and in
   * older records): passes that left the socket unread for want of delivery room, backup reads. */
  receiverEngine?: { ringFullWaits: number; backupReads: number };
}

export interface AllocationLane {
  lane: string;
  name: string;
  from: string;
  to: string[];
  payloadBytes: number;
  periodNs: number;
  /** The grant's phase (Grant.phaseNs); absent in records of older versions. */
  phaseNs?: number;
  lambdaMinUs: number;
  lambdaMaxUs: number;
  path: string[];
}

export interface AllocationPort {
  from: string;
  to: string;
  rateBps: number;
  expressShare: number;
  /** Express bandwidth granted through this port (bit/s) and its delay bound there. */
  expressLoadBps: number;
  delayBoundUs: number;
}

export interface HostBoundsRow {
  host: string;
  source: string;
  sendUs: [number, number];
  recvUs: [number, number];
  observedMaxUs?: number;
  samples?: number;
  /** Native, measured bounds: receive passes of the calibration that left the socket unread
   * because the host's application had not drained the delivery ring. */
  calibrationRingFullWaits?: number;
}

/** RUN_DIR/interference.json */
export interface InterferenceRecord {
  kind: 'xlane-interference';
  version: 1;
  createdAt: string;
  /** The command line that produced it. */
  command: string;
  topology: string;
  machine: { cpus: number; loadAvg1: number; kernel: string };
  allocation: { lanes: AllocationLane[]; ports: AllocationPort[] };
  /** Each involved host's send/receive bounds [min, max] µs as the controller used them: declared in
   * the topology, or measured by the calibration (its largest observed one-way latency and samples). */
  hostBounds?: HostBoundsRow[];
  runs: InterferenceRunDetail[];
  /** Issue 5's targets judged on these runs (absent in older records). */
  targets?: InterferenceTargets;
  /** What the CPU sharing costs, which engine modes were used, misses and their causes. */
  notes: string[];
}

/** `--json` on stdout: the record without the curves. */
export interface InterferenceOutput {
  runDir: string;
  runs: InterferenceRunSummary[];
  targets: InterferenceTargets;
}
