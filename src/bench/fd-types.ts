// What `xlane bench fd` takes, prints (`--json`) and writes to its run folder (RUN_DIR/fd.json).
import type { NativeReceiveMode } from './engine-peer-protocol.js';
import type { FalsePositiveCauses } from './fd-causes.js';
import type { Detection, Injection, ObservedSuspicion, PercentilesUs } from './fd-score.js';

export interface FdBenchOptions {
  topologyFile: string;
  runsDir: string;
  /** The group: every member heartbeats every other one (≥ 2 hosts of the topology). */
  members: string[];
  /** Heartbeat period asked for (π). */
  periodNs: number;
  /** Observation time with cross traffic (the run lasts at least this long) and crashes injected. */
  minutes: number;
  injections: number;
  engine: 'js' | 'native';
  /** Set when 'native' was asked for but the addon is not built (the run uses js). */
  engineFallback?: string;
  receive: NativeReceiveMode;
  /** Engine thread (native) or pacing worker (js) at SCHED_FIFO with this priority (unset: SCHED_OTHER). */
  fifoPriority?: number;
  /** Spin margin before a boundary or deadline (µs; unset: the engine's default, 30). */
  spinUs?: number;
  /** Native engine: each member's engine thread pinned, with a backup clock on another CPU
   * (backup-cores.ts; NativeEngineOptions.backupCore). */
  backup?: boolean;
  /** 'ring': one bulk TCP flow from every member to the next, so every egress port is saturated. */
  bulk: 'ring' | 'none';
  bulkStreams: number;
  /** Host send/receive bounds: the topology's (default, as `xlane agent`), or measured on each host's
   * engine first (the agent's `--host-bounds measure`) and given to the controller. */
  hostBounds: 'declared' | 'measure';
  calibrateSeconds: number;
  /** false: X-FD alone — no heartbeat delivered to JS for φ-accrual, no plain-dgram heartbeats
   * (their CPU cost is then absent; the two baselines report nothing). */
  baselines: boolean;
  phiThreshold: number;
  /** φ-accrual's acceptable heartbeat pause (added to the mean) and standard-deviation floor. */
  phiPauseNs: number;
  phiMinStdNs: number;
  /** Heartbeats run (with cross traffic) this long before the observation starts. */
  warmupSeconds: number;
  seed: number;
  /** Recorded in the run file. */
  command: string;
  onProgress?: (line: string) => void;
}

export interface DetectorSummary {
  detectionUs: PercentilesUs;
  falsePositives: number;
  detections: number;
  missed: number;
  alreadySuspected: number;
}

/** `--json` on stdout. */
export interface FdBenchOutput {
  heartbeatUs: number;
  /** TO = π + λ_min + 2δ from the grants (the largest over observer × member if they differ). */
  timeoutUs: number;
  /** X-FD: crash (right before SIGKILL) → the engine's suspicion, per injection × observer. */
  detectionUs: PercentilesUs;
  falsePositives: number;
  observedMinutes: number;
  phiAccrual: DetectorSummary & {
    threshold: number;
    acceptablePauseUs: number;
    minStdDeviationUs: number;
  };
  fixedTimeout: DetectorSummary & { timeoutUs: number; transport: 'node-dgram' };
  /** X-FD's detections, missed ones and its watchdog's slack: detection − (last arrival + TO). */
  detections: number;
  missed: number;
  alreadySuspected: number;
  slackUs: PercentilesUs;
  /** kill() returned − crash time: how sharply each crash moment is known. */
  crashBracketUs: PercentilesUs;
  injections: number;
  members: string[];
  engine: string;
  receive?: NativeReceiveMode;
  fifoPriority?: number;
  spinUs?: number;
  /** --backup: frames the members' backup clocks released, over the observation. */
  backupReleases?: number;
  engineFallback?: string;
  hostBounds: 'declared' | 'measure';
  baselines: boolean;
  /** Mean goodput of each bulk flow, and the share of the observation with every flow running. */
  bulkMbps: number;
  bulkCoverage: number;
  loadAvg1: { before: number; after: number };
  /** Of the machine's CPU time during the observation: the share busy, and the share the hypervisor
   * stole (/proc/stat). */
  cpuShare: { busy: number; steal: number };
  /** Of the heartbeats the members owed each other while up (one per period and pair), the share
   * that arrived: through the lane engine, and over plain dgram (fd-heartbeats.ts). null without
   * the baselines, which are what counts them. */
  heartbeatShare: { engine: number | null; dgram: number | null };
  /** Which premise of TO each X-FD false positive broke (fd-causes.ts). */
  falsePositiveCauses: FalsePositiveCauses;
  targets: {
    p99WithinTimeoutPlus50us: boolean;
    p99Under1ms: boolean;
    zeroFalsePositives: boolean;
    atLeast5Minutes: boolean;
    atLeast50Injections: boolean;
  };
  runDir: string;
}

/** RUN_DIR/fd.json: the output plus what it was computed from. */
export interface FdBenchRecord {
  kind: 'xlane-bench-fd';
  version: 1;
  createdAt: string;
  command: string;
  topology: string;
  machine: { cpus: number; kernel: string };
  output: FdBenchOutput;
  /** TO per observer → member (µs), and each FD lane's grant as the controller gave it. */
  timeoutsUs: Record<string, Record<string, number>>;
  lanes: {
    lane: string;
    sender: string;
    periodNs: number;
    windows: { host: string; lambdaMinUs: number; lambdaMaxUs: number }[];
  }[];
  hostBounds: { host: string; source: string; sendUs: [number, number]; recvUs: [number, number] }[];
  injections: Injection[];
  xfd: { detections: Detection[]; falsePositives: ObservedSuspicion[] };
  phiAccrual: { detections: Detection[]; falsePositives: ObservedSuspicion[] };
  fixedTimeout: { detections: Detection[]; falsePositives: ObservedSuspicion[] };
  /** Heartbeats received per observer → member by the engine and over plain dgram, and the Node
   * dgram senders' missed boundaries (their own pacing). */
  heartbeats: {
    engine: Record<string, Record<string, number>>;
    dgram: Record<string, Record<string, number>>;
    dgramSent: number;
    dgramMissed: number;
    backupReleases: number;
  };
  bulk: { from: string; to: string; segments: number; mbps: number; errors: string[] }[];
  notes: string[];
}
