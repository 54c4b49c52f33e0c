// The controller's durable state behind one interface. A mutation is a small, self-contained
// record (what to put, what to delete) applied atomically, so a replicated backend can later ship
// the same records through a log; SQLite (sqlite-store.ts) is the single-node implementation.
import type { Grant, LaneRequest } from '../alloc/types.js';
import type { TopologySpec } from '../topology/spec.js';
import type { HostBoundsRecord } from './host-bounds.js';

export type LaneState = 'pending' | 'live';

export interface StoredLane {
  id: string;
  request: LaneRequest;
  grant: Grant;
  state: LaneState;
  /** ISO time of admission. */
  createdAt: string;
  /** Registered hosts that must ACK at least this watch version before a pending lane may go live. */
  waitFor: Record<string, number>;
}

export interface HostRecord {
  name: string;
  registered: boolean;
  /** What the agent said at its last registration: its package version, and the control protocol
   * it speaks (src/control-protocol.ts; 1 when it said none). Absent in rows stored before the
   * field existed, until the agent registers again. */
  agentVersion?: string;
  protocol?: number;
  engine?: string;
  registeredAt?: string;
  /** What the agent said identifies its CLOCK_MONOTONIC (its kernel's boot id): hosts with the same
   * one share a clock, so one-way latency between them is exact. */
  clockDomain?: string;
  /** Per-host watch version: bumped whenever a grant concerning the host changes. */
  version: number;
  /** Highest version the host's agent acknowledged. */
  ackedVersion: number;
  /** Present while the topology carries bounds for this host that came through the API. */
  bounds?: HostBoundsRecord;
}

export interface StoreSnapshot {
  epoch: number;
  nextLaneId: number;
  topology: TopologySpec | undefined;
  lanes: StoredLane[];
  hosts: HostRecord[];
}

export interface StoreMutation {
  epoch?: number;
  nextLaneId?: number;
  topology?: TopologySpec;
  putLanes?: StoredLane[];
  deleteLanes?: string[];
  putHosts?: HostRecord[];
  deleteHosts?: string[];
}

export interface LaneStore {
  load(): StoreSnapshot;
  /** All or nothing: throws XL_ERR_STORE and leaves the stored state untouched on failure. */
  apply(mutation: StoreMutation): void;
  close(): void;
}

export function emptySnapshot(): StoreSnapshot {
  return { epoch: 0, nextLaneId: 1, topology: undefined, lanes: [], hosts: [] };
}

/** Applies a mutation to an in-memory snapshot (the same semantics every store must have). */
export function applyToSnapshot(snap: StoreSnapshot, m: StoreMutation): StoreSnapshot {
  const lanes = new Map(snap.lanes.map((l) => [l.id, l]));
  for (const id of m.deleteLanes ?? []) lanes.delete(id);
  for (const l of m.putLanes ?? []) lanes.set(l.id, l);
  const hosts = new Map(snap.hosts.map((h) => [h.name, h]));
  for (const n of m.deleteHosts ?? []) hosts.delete(n);
  for (const h of m.putHosts ?? []) hosts.set(h.name, h);
  return {
    epoch: m.epoch ?? snap.epoch,
    nextLaneId: m.nextLaneId ?? snap.nextLaneId,
    topology: m.topology ?? snap.topology,
    lanes: [...lanes.values()],
    hosts: [...hosts.values()],
  };
}
