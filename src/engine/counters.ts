import {
  DROP_REASONS,
  type DropReason,
  LANE_DROP_REASONS,
  type LaneCounters,
  type LaneDropReason,
} from './types.js';

export function emptyLaneCounters(laneId: string): LaneCounters {
  return {
    laneId,
    sent: 0,
    refused: 0,
    coalesced: 0,
    lateReleases: 0,
    maxReleaseDelayNs: 0,
    received: 0,
    lost: 0,
    reordered: 0,
    late: 0,
    early: 0,
    heartbeats: 0,
    latency: { count: 0, sumNs: 0, minNs: 0, maxNs: 0 },
    dropped: emptyLaneDropCounters(),
  };
}

export function emptyLaneDropCounters(): Record<LaneDropReason, number> {
  const out = {} as Record<LaneDropReason, number>;
  for (const r of LANE_DROP_REASONS) out[r] = 0;
  return out;
}

export function emptyDropCounters(): Record<DropReason, number> {
  const out = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) out[r] = 0;
  return out;
}
