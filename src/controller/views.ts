// What the API, the watch stream and the client see of lanes and hosts (plain JSON shapes).
import type { Grant, GrantChange, LaneRequest } from '../alloc/types.js';
import type { HostBoundsView } from './host-bounds.js';
import type { LaneState } from './store.js';

/** A grant as agents and API clients see it: the allocator's grant plus the lane's state and the
 * sender's clock domain (HostRecord.clockDomain) once its agent said it: a receiver whose own
 * differs measures no latency on the lane (engine ReceiverSpec.sharedClock). */
export type WireGrant = Grant & { state: LaneState; senderClockDomain?: string };

export interface LaneView {
  id: string;
  name?: string;
  state: LaneState;
  request: LaneRequest;
  grant: WireGrant;
  /** Registered hosts whose ACK the lane still waits for (empty once live). */
  pendingHosts: string[];
  createdAt: string;
}

export interface HostView {
  name: string;
  registered: boolean;
  connected: boolean;
  version: number;
  ackedVersion: number;
  /** HostRecord's: what the agent said at its last registration. */
  agentVersion?: string;
  protocol?: number;
  engine?: string;
  registeredAt?: string;
  clockDomain?: string;
  /** The send / receive bounds the allocator uses for this host, and where they came from. */
  bounds: HostBoundsView;
}

/** Registered hosts whose agents said the same version and protocol (GET /v1/health `agents`). */
export interface AgentVersionCount {
  agentVersion?: string;
  protocol?: number;
  hosts: number;
}

/** One push to one host's watch stream. */
export interface HostUpdate {
  host: string;
  version: number;
  epoch: number;
  grants: WireGrant[];
  removed: string[];
}

export interface HostGrants {
  host: string;
  version: number;
  epoch: number;
  grants: WireGrant[];
}

export interface OpenResult {
  lane: LaneView;
  changed: GrantChange[];
}

export interface CloseResult {
  removed: string;
  changed: GrantChange[];
  epoch: number;
}

export interface TopologyResult {
  epoch: number;
  changed: GrantChange[];
  revoked: string[];
}

/** PUT / DELETE /v1/hosts/:name/latency: the topology replacement's result and the host after it. */
export interface HostLatencyResult extends TopologyResult {
  host: HostView;
}
