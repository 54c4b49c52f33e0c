// What X-FD reports: one member's state in one group, and the event sent when it changes. Plain JSON
// shapes: the same objects travel over the local API, reach the client library and the logs.

/** `unknown`: watched (or waiting for a lane) but never heard from yet — no timeout applies. */
export type MemberState = 'unknown' | 'up' | 'suspect' | 'down';

/** Why a member changed state (see docs/fd.md). */
export type FdCause =
  /** A heartbeat arrived: first one, or after a suspicion (same incarnation). */
  | 'heartbeat'
  /** No heartbeat within TO after the last one (the engine's watchdog fired). */
  | 'timeout'
  /** Suspected without interruption for the confirm time. */
  | 'confirmed'
  /** A heartbeat with a larger incarnation arrived: the member restarted, its old incarnation is down. */
  | 'restarted'
  /** Watched for the confirm time without a single heartbeat. */
  | 'never-heard'
  /** The member's FD lane is gone (closed, revoked): it can no longer be watched. */
  | 'lane-closed';

export interface FdEvent {
  group: string;
  member: string;
  state: Exclude<MemberState, 'unknown'>;
  cause: FdCause;
  /** The incarnation this event is about (-1: none heard). A 'restarted' down names the OLD one. */
  incarnation: number;
  /** Arrival time and sender timestamp of the last heartbeat (0: none yet), CLOCK_MONOTONIC ns. */
  lastHeartbeatNs: number;
  lastHeartbeatSentNs: number;
  /** When the detector decided, CLOCK_MONOTONIC ns. */
  detectedNs: number;
  /** The detection timeout TO in force for this member (0: no lane yet). */
  timeoutNs: number;
}

export interface MemberStatus {
  group: string;
  member: string;
  state: MemberState;
  /** The member's FD lane, once this host receives it. */
  laneId?: string;
  incarnation: number;
  lastHeartbeatNs: number;
  lastHeartbeatSentNs: number;
  /** Time of the last state change (0: never changed). */
  detectedNs: number;
  /** Time of the last suspicion or down verdict (0: none). */
  lastDetectionNs: number;
  timeoutNs: number;
  /** Times this member went suspect / down since the agent started. */
  suspicions: number;
  downs: number;
}

/** A subscription to one group's member changes. */
export interface GroupSubscription {
  /** Every other member's state when the subscription started. */
  members: MemberStatus[];
  unsubscribe(): void;
}
