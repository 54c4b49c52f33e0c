// Memory the main thread and the pacing worker share. The main thread is the only producer of send
// requests and the worker the only consumer, so a single-producer/single-consumer ring with two
// Atomics-published indices needs no locks. Control (lane add/change/remove) travels as messages on
// a MessagePort that the worker polls synchronously; it is rare, so it may allocate.
import type { MessagePort } from 'node:worker_threads';
import { MAX_PAYLOAD_BYTES } from '../../alloc/wire.js';
import type { SpinMargin } from '../spin-setting.js';
import type { SenderSpec } from '../types.js';
import { createTxBuffers, type TxBuffers } from './tx-state.js';

/** Ring capacity: a power of two, so indices can wrap at 2^32. The engine keeps at most one request
 * per lane in the ring (engine.ts), so with RING_SLOTS ≥ MAX_LANES the ring can never be full. */
export const RING_SLOTS = 1024;
/** Per-slot header, Int32 words: lane slot, lane generation, ticket, payload length. */
export const SLOT_HEADER_WORDS = 4;
export const SLOT_BYTES = SLOT_HEADER_WORDS * 4 + Math.ceil(MAX_PAYLOAD_BYTES / 8) * 8;
/** Lane slots: indices into the per-lane shared counters. */
export const MAX_LANES = 1024;

/** Indices in the control Int32Array. */
export const C_HEAD = 0; // producer: requests pushed
export const C_TAIL = 1; // consumer: requests taken
export const C_WAKE = 2; // futex word the worker sleeps on; bumped on every push / control message
export const C_STOP = 3; // 1 = the worker must exit
export const C_CTRL = 4; // control messages posted (the worker compares with what it has read)
export const C_READY = 5; // 1 once the worker runs its loop
export const C_TID = 6; // the worker's kernel thread id (0: unknown), set before C_READY
export const C_FIFO = 7; // 1 once the main thread made the worker SCHED_FIFO (see realtime.ts)
export const CONTROL_WORDS = 8;

/** Per-lane statistics written by the worker (Float64: counters outlive 2^31). */
export const S_SENT = 0;
export const S_COALESCED = 1;
export const S_REFUSED = 2;
/** See LaneCounters.lateReleases / maxReleaseDelayNs. */
export const S_LATE_RELEASES = 3;
export const S_MAX_RELEASE_DELAY = 4;
export const STAT_WORDS = 5;

/** Receiver lanes with a liveness watch (see watchdog.ts). */
export const MAX_WATCHED = 1024;

export interface SharedState {
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  /** Int32 per lane slot: the ticket of the last request the worker released (see engine.ts). */
  released: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /** Per watch slot: Int32 seqlock word and the f64 time the lane's silence counts from. */
  watchSeq: SharedArrayBuffer;
  watchTime: SharedArrayBuffer;
  /** Per lane slot: release lock, owner generation, sequence number, last release (tx-state.ts). */
  tx: TxBuffers;
  /** The worker's spin margin (SP_* words, f64), written by the worker. */
  spin: SharedArrayBuffer;
}

/** Indices in the spin Float64Array: the margin in use, the sleeps measured, their learned quantile. */
export const SP_MARGIN_NS = 0;
export const SP_WAKE_SAMPLES = 1;
export const SP_WAKE_LATE_Q_NS = 2;
export const SPIN_WORDS = 3;

export function createSharedState(): SharedState {
  return {
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    ring: new SharedArrayBuffer(RING_SLOTS * SLOT_BYTES),
    released: new SharedArrayBuffer(MAX_LANES * 4),
    stats: new SharedArrayBuffer(MAX_LANES * STAT_WORDS * 8),
    watchSeq: new SharedArrayBuffer(MAX_WATCHED * 4),
    watchTime: new SharedArrayBuffer(MAX_WATCHED * 8),
    tx: createTxBuffers(MAX_LANES),
    spin: new SharedArrayBuffer(SPIN_WORDS * 8),
  };
}

export type ControlMessage =
  | { op: 'set'; slot: number; gen: number; spec: SenderSpec }
  | { op: 'remove'; slot: number; gen: number }
  | { op: 'watch'; slot: number; gen: number; timeoutNs: number }
  | { op: 'unwatch'; slot: number; gen: number };

/** Worker → main notices: socket errors (the main thread surfaces them on the next send), and a
 * watched receiver lane whose deadline passed (rare, so a message is fine). */
export type WorkerNotice =
  | { op: 'laneError'; laneId: string; gen: number; message: string }
  | { op: 'deadline'; slot: number; gen: number; atNs: number };

export interface PacerWorkerData {
  shared: SharedState;
  bindAddress: string;
  control: MessagePort;
  /** How long before a boundary or deadline to stop sleeping and spin (pacer.ts). */
  spin: SpinMargin;
}
