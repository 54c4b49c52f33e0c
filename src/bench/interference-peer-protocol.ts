// What `xlane bench interference` (interference.ts) and its per-host peer processes
// (interference-peer.ts) say to each other: the peer's configuration as one JSON argument, then one
// JSON object per line — requests on the peer's stdin, replies on its stdout.
import type { BoundsPolicy } from '../agent/host-bounds/statistics.js';
import type { HostLatencyRequest } from '../client/controller-client.js';
import type { ReceiverSpec, SenderSpec } from '../engine/types.js';
import type { NativeReceiveMode } from './engine-peer-protocol.js';

export interface InterferencePeerConfig {
  /** The testbed's name: shows in the peer's command line, so its processes can be found. */
  testbed: string;
  host: string;
  engine: 'js' | 'native';
  receive?: NativeReceiveMode;
  fifoPriority?: number;
  /** The engine's learned spin margin stays at or below this (µs). */
  maxSpinUs: number;
  core?: number;
  /** Native: a backup thread on this CPU releases late heartbeats and, with backupReadUs, reads a
   * socket the engine thread left unread (NativeEngineOptions). */
  backupCore?: number;
  backupReadUs?: number;
  address: string;
  port: number;
  /** Most frames one recording keeps per lane (preallocated: nothing is allocated per frame). */
  capacity: number;
  /** Folder the recorded samples are written to (binary Float64 files). */
  sampleDir: string;
}

/** How a sender lane gets a frame at every period: the engine's own heartbeats (time-triggered,
 * nothing to do for the application), or the application refilling a 'coalesce' lane. */
export type FeedMode = 'heartbeat' | 'refill';

export type InterferencePeerRequest =
  /** The agent's host-bound calibration (a lane from the host to itself) on this peer's engine. */
  | { op: 'calibrate'; seconds: number; periodNs: number; dscp: number; policy?: Partial<BoundsPolicy> }
  | { op: 'configure'; senders: SenderSpec[]; receivers: ReceiverSpec[] }
  | { op: 'feed'; mode: FeedMode; seconds: number; payloadBytes: number }
  /** Ends a 'refill' feed before its time (the recording is over); nothing to do for heartbeats. */
  | { op: 'feed-stop' }
  /** Starts recording (resets the buffers); 'collect' stops it and writes the samples. */
  | { op: 'record' }
  | { op: 'collect'; tag: string }
  | { op: 'progress' }
  | { op: 'stop' };

/** What a native engine counted during the recording (engineStats() differences). */
export interface PeerEngineStats {
  /** Receive passes that left the socket unread: the delivery ring was full (the application lagged). */
  ringFullWaits: number;
  /** Socket reads its backup thread did (bench --backup). */
  backupReads: number;
  /** Heartbeat frames its backup thread released. */
  backupReleases: number;
}

export interface RecordedLane {
  lane: string;
  count: number;
  lost: number;
  /** count receivedNs values, then count latencyNs values, then count kernel latencies (sender's
   * stamp → the receiving kernel's, 0: unknown) (Float64, little endian). */
  file: string;
}

export interface ProgressLane {
  lane: string;
  /** Frames recorded so far in this recording, and rolling figures since the last progress call. */
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export type InterferencePeerReply =
  | { op: 'ready'; engine: string }
  | { op: 'calibrate'; request: HostLatencyRequest; summary: string }
  | { op: 'configure' }
  | { op: 'feed'; sent: number }
  | { op: 'record' }
  | { op: 'collect'; lanes: RecordedLane[]; stats?: PeerEngineStats }
  | { op: 'progress'; lanes: ProgressLane[] }
  | { op: 'feed-stop' }
  | { op: 'stop' }
  | { op: 'error'; code: string; message: string };
