// The lane engine: the per-packet half of xlane. Two implementations (TypeScript `js`, and the
// native C engine of a later issue) implement this one interface and pass one conformance suite.
// The control plane (agent, client) only ever talks to an Engine through these calls.
import type { LanePolicy } from '../alloc/types.js';

export interface PeerAddress {
  host: string;
  address: string;
  port: number;
}

/** A lane's sending side, from its grant. Calling setSender again with the same laneId applies a
 * grant change (new σ_max, π_min, epoch, destinations) without losing the sequence number. */
export interface SenderSpec {
  laneId: string;
  /** The lane id as it travels on the wire (u32), see laneWireId(). */
  wireId: number;
  epoch: number;
  maxPayloadBytes: number;
  minPeriodNs: number;
  policy: LanePolicy;
  dscp: number;
  priority: number;
  srcPort: number;
  destinations: PeerAddress[];
}

/** A lane's receiving side, from its grant. */
export interface ReceiverSpec {
  laneId: string;
  wireId: number;
  epoch: number;
  /** Frames are accepted only from this source address (the lane's sender host). */
  senderAddress: string;
  maxPayloadBytes: number;
  /** The granted window for this receiver: messages outside it are counted (late / early). */
  lambdaMinNs: number;
  lambdaMaxNs: number;
}

export type SendOutcome = 'queued' | 'coalesced';

/** Why a received datagram was dropped; every reason has its own counter. */
export const DROP_REASONS = [
  'short',
  'oversize',
  'version',
  'malformed',
  'unknownLane',
  'staleEpoch',
  'wrongSender',
  'duplicate',
  'old',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** One delivered message. The engine REUSES this object and the payload view for every message
 * (no per-packet allocation): copy what you keep before returning from the handler. */
export interface DeliveryView {
  laneId: string;
  seq: number;
  /** Sender's send timestamp and our receive timestamp, ns on the shared clock (see clock). */
  sentNs: number;
  receivedNs: number;
  payload: Uint8Array;
}

export type DeliveryHandler = (d: DeliveryView) => void;

export interface LaneCounters {
  laneId: string;
  sent: number;
  refused: number;
  coalesced: number;
  received: number;
  /** Gaps in the sequence that never filled, and messages that arrived after a later one. */
  lost: number;
  reordered: number;
  /** Received later than λ_max / sooner than λ_min after their send timestamp. */
  late: number;
  early: number;
  /** Latency of delivered messages (ns): count, sum, min, max — histograms live in the agent. */
  latency: { count: number; sumNs: number; minNs: number; maxNs: number };
}

export interface EngineCounters {
  lanes: LaneCounters[];
  dropped: Record<DropReason, number>;
}

export interface EngineOptions {
  /** Address and UDP port this host's engine receives express frames on. */
  bindAddress: string;
  port: number;
  /** CPU for the engine's pacing / polling thread, when the implementation can pin. */
  core?: number;
}

export interface Engine {
  readonly kind: 'js' | 'native';
  start(opts: EngineOptions): Promise<void>;
  setSender(spec: SenderSpec): void;
  removeSender(laneId: string): void;
  setReceiver(spec: ReceiverSpec): void;
  removeReceiver(laneId: string): void;
  /** Contract-checked, synchronous, never blocks. Oversize → XlaneError XL_ERR_CONTRACT_SIZE; sooner
   * than π_min after the previous message with policy 'reject' → XL_ERR_CONTRACT_RATE; with policy
   * 'coalesce' the pending message is replaced by this one ('coalesced'). Unknown lane →
   * XL_ERR_UNKNOWN_LANE. The frame leaves at the lane's next period boundary. */
  send(laneId: string, payload: Uint8Array): SendOutcome;
  onDelivery(handler: DeliveryHandler): void;
  counters(): EngineCounters;
  close(): Promise<void>;
}

/** Controller lane ids are "L<n>"; n is the lane's id on the wire. */
export function laneWireId(laneId: string): number {
  const m = /^L(\d{1,10})$/.exec(laneId);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new RangeError(`not a lane id: ${laneId}`);
  return n;
}
