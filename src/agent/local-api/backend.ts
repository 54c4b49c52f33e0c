// What the agent offers local applications, independent of transport: the Unix-socket server
// (local-api/server.ts) speaks frames and calls this; the agent daemon implements it; the client
// library's embedded mode implements it in-process. One seam, so the socket protocol and the
// agent's lane handling are tested apart.
import type { Grant, LaneRequest } from '../../alloc/types.js';
import type { DeliveryView, LaneCounters, SendOutcome } from '../../engine/types.js';
import type { FdEvent, GroupSubscription } from '../../fd/types.js';

/** A lane as an application sees it: its grant and whether it may send yet. */
export interface LocalLane {
  laneId: string;
  grant: Grant;
  /** 'pending' until the controller says every affected host holds the change (safe order). */
  state: 'pending' | 'live';
}

export type LaneEvent =
  | { type: 'grant'; laneId: string; grant: Grant; state: 'pending' | 'live' }
  | { type: 'closed'; laneId: string; reason: string };

export interface LocalSubscriber {
  /** Called per delivered message on a lane the subscriber opened or listens on; the view is reused. */
  onDelivery(d: DeliveryView): void;
  onEvent(e: LaneEvent): void;
}

export interface LocalBackend {
  /** Asks the controller for a lane whose sender is this host. */
  openLane(request: Omit<LaneRequest, 'sender'>, opts?: { waitLiveMs?: number }): Promise<LocalLane>;
  /** Starts delivering an existing lane whose receiver is this host (by lane id or name). Any
   * client of this host may: receivers never open a lane (its sender's host does), and who reaches
   * the backend at all is decided by the socket's file mode. */
  listen(laneIdOrName: string): Promise<LocalLane>;
  closeLane(laneId: string): Promise<void>;
  /** Synchronous, contract-checked by the engine (see Engine.send). */
  send(laneId: string, payload: Uint8Array): SendOutcome;
  counters(laneId: string): LaneCounters | undefined;
  subscribe(laneId: string, sub: LocalSubscriber): () => void;
  /** X-FD: follow a failure-detector group's member changes. Throws XL_ERR_NOT_FOUND for a group
   * this backend does not run; absent when it runs no failure detector at all. */
  subscribeGroup?(group: string, onEvent: (e: FdEvent) => void): GroupSubscription;
  /** A delivery (key: lane id) or failure-detector event (key: group) was dropped because a client
   * did not read. Called per dropped message: keep it cheap. */
  clientDropped?(kind: 'delivery' | 'fdEvent', key: string): void;
}
