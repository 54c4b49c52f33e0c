// What `xlane bench fd` (fd.ts) and its per-member peer processes (fd-peer.ts) say to each other:
// the peer's configuration as one JSON argument, then one JSON object per line — requests on the
// peer's stdin, replies on its stdout.
import type { HostLatencyRequest } from '../client/controller-client.js';
import type { ReceiverSpec, SenderSpec } from '../engine/types.js';
import type { PhiAccrualOptions } from '../fd/phi-accrual.js';
import type { NativeReceiveMode } from './engine-peer-protocol.js';

export interface FdPeerConfig {
  /** The testbed's name: shows in the peer's command line, so its processes can be found. */
  testbed: string;
  host: string;
  engine: 'js' | 'native';
  receive?: NativeReceiveMode;
  /** Native engine: SCHED_FIFO priority of its thread (unset: SCHED_OTHER). */
  fifoPriority?: number;
  /** Native engine: sleep until this long before a send boundary or a watch deadline, then spin. */
  spinUs?: number;
  /** Native engine: its thread pinned to `core`, and a backup clock on `backupCore` (--backup). */
  core?: number;
  backupCore?: number;
  address: string;
  /** UDP port of the lane engine, and of the plain dgram heartbeats (the fixed-timeout baseline). */
  enginePort: number;
  dgramPort: number;
  periodNs: number;
  /** The other members, whose heartbeats this peer watches. */
  members: { host: string; address: string }[];
  /** φ-accrual's parameters (every field set). */
  phi: Required<PhiAccrualOptions>;
  /** The dgram sender stops by itself after this long, whatever happens to the orchestrator. */
  maxSeconds: number;
  /** Folder the collected suspicions are written to (binary, see SUSPICION_ROW). */
  sampleDir: string;
}

export type FdPeerRequest =
  /** The agent's host-bound calibration (a lane from the host to itself) on this peer's engine. */
  | { op: 'calibrate'; seconds: number; periodNs: number; dscp: number }
  /** Receivers first, then senders; `laneMembers` names the member behind each watched lane;
   * `dgramTimeoutNs` is the fixed timeout applied to each member's plain-dgram heartbeats. */
  | {
      op: 'configure';
      senders: SenderSpec[];
      receivers: ReceiverSpec[];
      laneMembers: Record<string, string>;
      incarnation: number;
      /** false: no plain-dgram heartbeats (a run without the baselines). */
      dgram: boolean;
      dgramTimeoutNs: Record<string, number>;
    }
  /** What the engine's watch says about each member now. */
  | { op: 'status' }
  /** Everything recorded since the last collect (then forgotten). `final`: the observation ends
   * (or this peer is about to be killed): silences still running are reported, unfinished. */
  | { op: 'collect'; final: boolean }
  | { op: 'stop' };

/** The three detectors a peer runs, as written in a suspicion row. */
export const DETECTOR_KINDS = ['xfd', 'phi', 'dgram'] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

/** One suspicion = one row of Float64 (little endian) in a collect file: the detector (index in
 * DETECTOR_KINDS), the member (index in FdPeerConfig.members), start, end (−1: still running at a
 * final collect), and the arrival the silence followed. X-FD's rows come from the engine's liveness
 * events (suspect → the next alive); a suspect of a member never heard from is not one (X-FD's
 * `unknown` state has no timeout). */
export const SUSPICION_ROW = {
  kind: 0,
  member: 1,
  startNs: 2,
  endNs: 3,
  lastArrivalNs: 4,
  /** X-FD only (NaN for the others): the send stamps of the heartbeat the silence followed and of
   * the frame that ended it, and that frame's arrival (fd-causes.ts). */
  lastSentNs: 5,
  endSentNs: 6,
  endArrivalNs: 7,
  width: 8,
} as const;

export interface FdPeerCounters {
  /** Per member: heartbeats the engine delivered, plain-dgram heartbeats received. */
  engineHeartbeats: Record<string, number>;
  dgramHeartbeats: Record<string, number>;
  /** Plain-dgram heartbeat rounds this peer sent, and boundaries its Node loop missed entirely. */
  dgramSent: number;
  dgramMissed: number;
  /** Heartbeat frames this member's backup clock released since the last collect (--backup). */
  backupReleases: number;
}

export interface FdCollectReply {
  op: 'collect';
  /** The suspicions since the last collect (SUSPICION_ROW rows); the orchestrator deletes it. */
  file: string;
  rows: number;
  counters: FdPeerCounters;
}

export type FdPeerReply =
  | { op: 'ready'; engine: string }
  | { op: 'calibrate'; request: HostLatencyRequest; summary: string }
  | { op: 'configure'; atNs: number }
  | { op: 'status'; members: { member: string; state: string; incarnation: number }[] }
  | FdCollectReply
  | { op: 'stop' }
  | { op: 'error'; code: string; message: string };
