// The headline numbers of a topology, for `xlane topology check` and status displays.
import type { TopologySpec } from './spec.js';

export interface TopologySummary {
  name: string;
  hosts: number;
  switches: number;
  links: number;
  minLinkRateBps: number;
  maxLinkRateBps: number;
  minExpressShare: number;
  maxExpressShare: number;
  mtuBytes: number;
  maxFrameBytes: number;
  expressDscp: number;
  expressPort: number;
}

export function summariseTopology(spec: TopologySpec): TopologySummary {
  let minRate = Number.POSITIVE_INFINITY;
  let maxRate = 0;
  let minShare = Number.POSITIVE_INFINITY;
  let maxShare = 0;
  for (const link of spec.links) {
    minRate = Math.min(minRate, link.rateBps);
    maxRate = Math.max(maxRate, link.rateBps);
    minShare = Math.min(minShare, link.expressShare);
    maxShare = Math.max(maxShare, link.expressShare);
  }
  const none = spec.links.length === 0;
  return {
    name: spec.name,
    hosts: spec.hosts.length,
    switches: spec.switches.length,
    links: spec.links.length,
    minLinkRateBps: none ? 0 : minRate,
    maxLinkRateBps: maxRate,
    minExpressShare: none ? 0 : minShare,
    maxExpressShare: maxShare,
    mtuBytes: spec.mtuBytes,
    maxFrameBytes: spec.maxFrameBytes,
    expressDscp: spec.expressDscp,
    expressPort: spec.expressPort,
  };
}
