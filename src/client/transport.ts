// What a Client needs from "the agent", whichever way it is reached: over the Unix socket
// (socket-transport.ts) or in-process through a LocalBackend (backend-transport.ts, used by the
// embedded mode). Lanes are addressed by a small numeric key the transport hands out.
import type { LaneEvent, LocalLane } from '../agent/local-api/backend.js';
import type { LaneRequest } from '../alloc/types.js';
import type { DeliveryView, LaneCounters, SendOutcome } from '../engine/types.js';

/** The engine's counters of a lane, and in socket mode what the agent dropped for this client. */
export interface ClientLaneCounters extends LaneCounters {
  /** Messages of this lane the agent dropped because this connection read too slowly (its
   * backlog passed the local API's limit); socket mode only. They show as gaps in `seq`. */
  droppedDeliveries?: number;
}

import type { XlaneError } from '../errors.js';
import type { FdEvent, MemberStatus } from '../fd/types.js';

export interface TransportSink {
  /** A delivered message; the view (and its payload) is reused after the call returns. */
  delivery(key: number, d: DeliveryView): void;
  event(key: number, e: LaneEvent): void;
  /** A send the agent refused after send() had returned (socket mode sends without waiting). */
  refused(key: number, err: XlaneError): void;
  /** The transport is gone (agent closed the socket, or destroy()). */
  gone(err?: XlaneError): void;
}

/** Where a failure-detector subscription's data goes: `start` once with the member table (before
 * any event), then `event` per member change, in the agent's order. */
export interface GroupSink {
  start(sub: number, members: MemberStatus[]): void;
  event(e: FdEvent): void;
}

export interface OpenedLane {
  key: number;
  lane: LocalLane;
}

export type LaneOpenRequest = Omit<LaneRequest, 'sender'>;

export interface ClientTransport {
  readonly mode: 'socket' | 'embedded';
  bind(sink: TransportSink): void;
  open(request: LaneOpenRequest, waitLiveMs?: number): Promise<OpenedLane>;
  listen(laneIdOrName: string): Promise<OpenedLane>;
  closeLane(key: number): Promise<void>;
  send(key: number, payload: Uint8Array): SendOutcome;
  /** Like send, but resolves with the agent's verdict (a round trip in socket mode). */
  sendAcked(key: number, payload: Uint8Array): Promise<SendOutcome>;
  counters(key: number): Promise<ClientLaneCounters>;
  /** Follows a failure-detector group; resolves with the subscription number. */
  subscribeGroup(group: string, sink: GroupSink): Promise<number>;
  unsubscribeGroup(sub: number): Promise<void>;
  /** Graceful: closes every lane this transport opened, then disconnects. */
  close(): Promise<void>;
  /** Immediate: drops the connection; the agent closes the lanes on its side. */
  destroy(err?: XlaneError): void;
}
